import type { LabResult } from "../cellbroadcast/lab-broadcast.js";
import type { ModemHealth } from "../cellbroadcast/modem-driver.js";
import type { CellBroadcastReport, CellBroadcastResult } from "../results/result.js";
import type { DecodedMessage } from "./cb-decode.js";

const SCOPES = ["cell-wide, immediate", "PLMN-wide", "location/tracking-area-wide", "cell-wide"];

function hex4(n: number): string {
  return `0x${n.toString(16).toUpperCase().padStart(4, "0")}`;
}

function serialLine(sn: DecodedMessage["serialNumber"]): string {
  const flags = [sn.emergencyUserAlert ? "emergency user alert" : "", sn.popup ? "popup" : ""].filter(
    Boolean,
  );
  return (
    `${hex4(sn.raw)} = ${sn.raw}: geographical scope ${sn.geographicalScope} (${SCOPES[sn.geographicalScope]}), ` +
    `message code ${sn.messageCode}, update ${sn.updateNumber}${flags.length ? ` [${flags.join(", ")}]` : ""}`
  );
}

function indent(text: string): string {
  return text
    .split(/\r?\n|\r/)
    .map((l) => `  ${l}`)
    .join("\n");
}

/** The human report of `cb decode`. */
export function renderDecoded(m: DecodedMessage): string {
  const status = m.complete
    ? `complete, ${m.pages} page${m.pages > 1 ? "s" : ""}`
    : `INCOMPLETE: page${m.missing.length > 1 ? "s" : ""} ${m.missing.join(", ")} of ${m.pages} missing`;
  const lines = [
    `${m.channel} (${m.kind}), ${status}`,
    `channel        ${m.messageIdentifier} (${hex4(m.messageIdentifier)}) ${m.channel}`,
    `serial number  ${serialLine(m.serialNumber)}`,
    `coding         ${m.dcs === null ? "none (ETWS primary notification)" : `DCS 0x${m.dcs.toString(16).toUpperCase().padStart(2, "0")}: ${m.coding?.description ?? ""}`}`,
    `language       ${m.language ?? "not given"}`,
    `format         ${m.format}`,
    `pages          ${m.pageList.map((p) => `${p.page}/${m.pages} (${p.octets} octets)`).join(", ")}`,
  ];
  if (m.etws) {
    lines.push(
      `ETWS           warning type ${m.etws.warningType} (${m.etws.warningTypeName})${m.etws.emergencyUserAlert ? ", emergency user alert" : ""}${m.etws.popup ? ", popup" : ""}`,
    );
  }
  for (const w of m.warnings) lines.push(`warning        ${w}`);
  lines.push("text", indent(m.text));
  return `${lines.join("\n")}\n`;
}

/** One received broadcast, for `cb listen`. */
export function renderBroadcast(at: string, b: CellBroadcastReport): string {
  const head =
    `${at}  ${b.status === "complete" ? "BROADCAST" : "INCOMPLETE"} ${b.kind} on ${b.messageIdentifier} ` +
    `(${b.channel}) SN ${hex4(b.serialNumber.raw)} code ${b.serialNumber.messageCode} update ${b.serialNumber.updateNumber}` +
    `${b.isUpdate ? " [update]" : ""}, ${b.pagesReceived.length}/${b.pages} pages, ${b.language ?? "no language"}`;
  const extra: string[] = [];
  if (!b.firstCopy) extra.push(`  copy of alert ${b.alertId} (channels ${b.alertChannels.join(", ")})`);
  if (b.latency.schedule !== null)
    extra.push(`  ${b.latency.schedule.toFixed(1)} s after the scheduled national test`);
  return `${[head, ...extra, indent(b.text)].join("\n")}\n`;
}

/** One health line, for `cb listen`. */
export function renderHealth(at: string, h: ModemHealth): string {
  if (!h.connected) return `${at}  health: port not open${h.lastError ? ` (${h.lastError})` : ""}\n`;
  if (!h.initialised) return `${at}  health: not initialised${h.lastError ? ` (${h.lastError})` : ""}\n`;
  const sub = h.subscriptionOk
    ? "subscription ok"
    : `subscription NOT in place (${h.subscription?.mids ?? "none"})`;
  return (
    `${at}  health: ${h.registered ? "registered" : "NOT registered"}, ${h.plmn || "no PLMN"} ${h.rat}, ` +
    `${h.signalDbm === null ? "signal unknown" : `${h.signalDbm} dBm`}, ${sub}, ${h.messageMode} mode\n`
  );
}

/** Any cell-broadcast result as one or more lines, for `cb listen`. */
export function renderCellBroadcastResult(r: CellBroadcastResult): string {
  switch (r.event) {
    case "broadcast":
      return renderBroadcast(r.at, r.broadcast);
    case "health":
      return renderHealth(r.at, r.health);
    case "link":
      return `${r.at}  link ${r.link.up ? "up" : "DOWN"}: ${r.link.reason}\n`;
    case "national_test":
      return `${r.at}  national test of ${r.nationalTest.scheduledAt}: ${r.nationalTest.received ? "received" : "MISSED"}\n`;
  }
}

/** The report of `cb lab`. */
export function renderLab(r: LabResult): string {
  const lines = [
    `${r.success ? "PASS" : "FAIL"}  lab broadcast on ${r.channel}, message code ${r.messageCode}, via ${r.cbc}`,
  ];
  if (r.error) lines.push(`      ${r.error}`);
  if (r.createStatus !== null)
    lines.push(
      `      CBC answered ${r.createStatus}${r.createSeconds !== null ? ` after ${r.createSeconds.toFixed(3)} s` : ""}`,
    );
  for (const d of r.devices) {
    if (!d.received) {
      lines.push(`      ${d.device}: not received${d.ready ? "" : " (modem was not ready)"}`);
      continue;
    }
    lines.push(
      `      ${d.device}: first page ${d.firstPageSeconds!.toFixed(3)} s, complete ${d.completeSeconds!.toFixed(3)} s ` +
        `after the POST (${d.pages} page${d.pages === 1 ? "" : "s"}${d.textMatches ? "" : ", text differs"})`,
    );
  }
  if (r.deleteStatus !== null) lines.push(`      withdrawn: DELETE answered ${r.deleteStatus}`);
  return `${lines.join("\n")}\n`;
}
