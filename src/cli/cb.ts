import type { Argv, CommandModule } from "yargs";
import { cbDecodeCommand } from "./cb-decode.js";
import { cbLabCommand } from "./cb-lab.js";
import { cbListenCommand } from "./cb-listen.js";

/** `probe112 cb <decode|listen|lab>`: cell-broadcast tools for field engineers and labs. */
export function cbCommand(setExit: (code: number) => void): CommandModule {
  return {
    command: "cb <command>",
    describe: "Cell broadcast (NL-Alert): decode PDUs, listen on a modem, time a lab broadcast",
    builder: (y: Argv) =>
      y
        .command(cbDecodeCommand(setExit))
        .command(cbListenCommand(setExit))
        .command(cbLabCommand(setExit))
        .demandCommand(1, "Name a cb command: decode, listen or lab."),
    handler: () => {},
  };
}
