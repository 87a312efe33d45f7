#!/usr/bin/env node
import { main } from "../dist/cli/main.js";

const code = await main(process.argv.slice(2));
// A command resolves only when its work is done; SIP.js may still hold transaction timers
// (Timer D runs 32 s after a challenged INVITE) that would keep the process alive for nothing.
process.exit(code);
