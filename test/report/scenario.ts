import { agentTarget, type CheckLabels, History, SimAgent } from "../support/agent-history.js";

// The history the report tests read, minute by minute. The expected figures in the tests are
// worked out by hand from the plan written here; keep the two in step.
//
// MAIN DAY: the report range is 2026-06-01 07:00Z – 13:00Z (09:00–15:00 CEST), 360 minutes.
// Minute m is the scrape at T0 + 60·m s; scrapes run from m = −60 (an hour of history before the
// range, so counters have a baseline) to m = 360. The call a scrape shows was placed in (m−1, m].
// Every check makes one scheduled call a minute. Before m = −60 each check has made 10 000
// answered calls (the agent has been running for weeks): none of them may be counted.
//
// kpn-ams-1 (restarts between scrapes 199 and 200: counters reset, no call at m = 200)
//   kpn-voip.test-112    voip:   every call answered; SRD 1.5 s when m % 4 == 0, else 0.3 s
//   kpn-mobile.test-112  mobile: m 150–169 timeout (no SRD); m 151 a confirm call times out too,
//                                check_up 0 from 151, 1 at 170; when m % 60 == 30 outside the outage
//                                busy (SRD 0.2 s, failure) then a confirm call answered; SRD 2.5 s
// vz-rtm-1 (not scraped at m 241–250: a scrape gap; its calls go on)
//   vodafone-voip.test-112 voip: m 10, 20, 30 probe_error (the agent's own fault); m 60–89 503
//                                network_failure (SRD 0.08 s), m 61 a confirm call too, check_up 0
//                                from 61, 1 at 90; m 300 redirected (302, SRD 0.1 s) then a confirm
//                                call answered; answered SRD 0.2 s
// tm-gn-1
//   tmobile-mobile.test-112 mobile: m 152–174 network_failure (no SRD); confirm calls failing at
//                                m 153 and 154, check_up 0 from 154, 1 at 175; m 50 answered but
//                                the media check failed, then a confirm call answered; SRD 0.75 s
//
// NL-Alert national test 2026-06-01 12:00 CEST (10:00Z, m = 180). Receivers connected all along:
//   m-kpn-1 (kpn): already held the first-seen time of the December 2025 test (+12 s); from
//            m 181 it holds slot + 40 s.
//   m-kpn-2 (kpn): from m 182 holds slot + 70 s.
//   m-vf-1 (vodafone): from m 182 holds slot + 95 s.
//   m-tm-1 (tmobile): no nl_test at all; an ordinary alert (kind="alert") first seen at m 100.
//   m-lyca-1 (lyca, on tm-gn-1): its serial link is down (connected 0) from m 170 to m 200, so
//            it could not have received anything: no verdict for lyca.

export const T0 = Date.UTC(2026, 5, 1, 7, 0, 0) / 1000;
export const T_END = T0 + 360 * 60;
export const at = (m: number) => T0 + m * 60;
/** 2026-06-01 12:00 Europe/Amsterdam (CEST, UTC+2): the first Monday of June 2026. */
export const SLOT = Date.UTC(2026, 5, 1, 10, 0, 0) / 1000;
/** 2025-12-01 12:00 Europe/Amsterdam (CET, UTC+1). */
export const SLOT_DEC_2025 = Date.UTC(2025, 11, 1, 11, 0, 0) / 1000;

const check = (
  check: string,
  provider: string,
  access: string,
  transport: string,
  destination = "test-112",
): CheckLabels => ({
  check: `${check}.${destination}`,
  provider,
  path: check,
  access,
  transport,
  destination,
  role: "test",
});

export const KPN_VOIP = check("kpn-voip", "kpn", "voip", "tls");
export const KPN_MOBILE = check("kpn-mobile", "kpn", "mobile", "udp");
export const VODAFONE_VOIP = check("vodafone-voip", "vodafone", "voip", "udp");
export const TMOBILE_MOBILE = check("tmobile-mobile", "tmobile", "mobile", "udp");

const PRELOAD = 10_000;

export function mainDay(history = new History()): History {
  const kpn = new SimAgent(history, agentTarget("kpn-ams-1"));
  const vz = new SimAgent(history, agentTarget("vz-rtm-1"));
  const tm = new SimAgent(history, agentTarget("tm-gn-1"));
  kpn.declare([KPN_VOIP, KPN_MOBILE]);
  vz.declare([VODAFONE_VOIP]);
  tm.declare([TMOBILE_MOBILE]);
  kpn.declareModems([
    { modem: "m-kpn-1", operator: "kpn", region: "amsterdam" },
    { modem: "m-kpn-2", operator: "kpn", region: "amsterdam" },
  ]);
  vz.declareModems([{ modem: "m-vf-1", operator: "vodafone", region: "rotterdam" }]);
  tm.declareModems([
    { modem: "m-tm-1", operator: "tmobile", region: "groningen" },
    { modem: "m-lyca-1", operator: "lyca", region: "groningen" },
  ]);
  kpn.alertFirstSeen("m-kpn-1", "nl_test", SLOT_DEC_2025 + 12);
  kpn.call(KPN_VOIP.check, { outcome: "answered", srd: 0.3 }, PRELOAD);
  kpn.call(KPN_MOBILE.check, { outcome: "answered", srd: 2.5 }, PRELOAD);
  vz.call(VODAFONE_VOIP.check, { outcome: "answered", srd: 0.2 }, PRELOAD);
  tm.call(TMOBILE_MOBILE.check, { outcome: "answered", srd: 0.75 }, PRELOAD);

  for (let m = -60; m <= 360; m++) {
    // kpn-ams-1
    if (m === 200) kpn.restart();
    else {
      kpn.call(KPN_VOIP.check, { outcome: "answered", srd: m % 4 === 0 ? 1.5 : 0.3 });
      if (m >= 150 && m <= 169) {
        kpn.call(KPN_MOBILE.check, { outcome: "timeout", srd: null });
        if (m === 151) {
          kpn.call(KPN_MOBILE.check, { outcome: "timeout", attempt: "confirm", srd: null });
          kpn.setUp(KPN_MOBILE.check, false);
        }
      } else if (m % 60 === 30) {
        kpn.call(KPN_MOBILE.check, { outcome: "busy", srd: 0.2 });
        kpn.call(KPN_MOBILE.check, { outcome: "answered", attempt: "confirm", srd: 2.5 });
      } else {
        kpn.call(KPN_MOBILE.check, { outcome: "answered", srd: 2.5 });
        if (m === 170) kpn.setUp(KPN_MOBILE.check, true);
      }
      if (m === 181) kpn.alertFirstSeen("m-kpn-1", "nl_test", SLOT + 40);
      if (m === 182) kpn.alertFirstSeen("m-kpn-2", "nl_test", SLOT + 70);
    }
    kpn.scrape(at(m));

    // vz-rtm-1
    const v = VODAFONE_VOIP.check;
    if (m === 10 || m === 20 || m === 30) vz.call(v, { outcome: "probe_error" });
    else if (m >= 60 && m <= 89) {
      vz.call(v, { outcome: "network_failure", srd: 0.08 });
      if (m === 61) {
        vz.call(v, { outcome: "network_failure", attempt: "confirm", srd: 0.08 });
        vz.setUp(v, false);
      }
    } else if (m === 300) {
      vz.call(v, { outcome: "redirected", srd: 0.1 });
      vz.call(v, { outcome: "answered", attempt: "confirm", srd: 0.2 });
    } else {
      vz.call(v, { outcome: "answered", srd: 0.2 });
      if (m === 90) vz.setUp(v, true);
    }
    if (m === 182) vz.alertFirstSeen("m-vf-1", "nl_test", SLOT + 95);
    if (m < 241 || m > 250) vz.scrape(at(m));

    // tm-gn-1
    const t = TMOBILE_MOBILE.check;
    if (m >= 152 && m <= 174) {
      tm.call(t, { outcome: "network_failure", srd: null });
      if (m === 153) tm.call(t, { outcome: "network_failure", attempt: "confirm", srd: null });
      if (m === 154) {
        tm.call(t, { outcome: "network_failure", attempt: "confirm", srd: null });
        tm.setUp(t, false);
      }
    } else if (m === 50) {
      tm.call(t, { outcome: "answered", srd: 0.75, mediaFail: true });
      tm.call(t, { outcome: "answered", attempt: "confirm", srd: 0.75 });
    } else {
      tm.call(t, { outcome: "answered", srd: 0.75 });
      if (m === 175) tm.setUp(t, true);
    }
    if (m === 100) tm.alertFirstSeen("m-tm-1", "alert", at(100) - 20);
    if (m === 170) tm.receiverConnected("m-lyca-1", false);
    if (m === 201) tm.receiverConnected("m-lyca-1", true);
    tm.scrape(at(m));
  }
  return history;
}

// PARTIAL DAY: 2026-06-10 00:00Z – 04:00Z (240 minutes), P0 = 00:00Z, scrapes from m = −60.
//   kpn-ams-1  kpn-voip.test-112:      every call answered (SRD 0.3 s), scraped throughout.
//   tm-gn-1    tmobile-mobile.test-112: answered (0.75 s); the agent is scraped up to m = 120 only
//              (its series are missing for the second half).
//   vz-rtm-1   vodafone-voip.test-112:  answered (0.2 s) all along, but scraped from m = 121 only
//              (its series are missing for the first half, the counters then at 10 000 + …).

export const P0 = Date.UTC(2026, 5, 10, 0, 0, 0) / 1000;
export const P_END = P0 + 240 * 60;
export const pAt = (m: number) => P0 + m * 60;

export function partialDay(history = new History()): History {
  const kpn = new SimAgent(history, agentTarget("kpn-ams-1"));
  const vz = new SimAgent(history, agentTarget("vz-rtm-1"));
  const tm = new SimAgent(history, agentTarget("tm-gn-1"));
  kpn.declare([KPN_VOIP]);
  vz.declare([VODAFONE_VOIP]);
  tm.declare([TMOBILE_MOBILE]);
  kpn.call(KPN_VOIP.check, { outcome: "answered", srd: 0.3 }, PRELOAD);
  vz.call(VODAFONE_VOIP.check, { outcome: "answered", srd: 0.2 }, PRELOAD);
  tm.call(TMOBILE_MOBILE.check, { outcome: "answered", srd: 0.75 }, PRELOAD);
  for (let m = -60; m <= 240; m++) {
    kpn.call(KPN_VOIP.check, { outcome: "answered", srd: 0.3 });
    vz.call(VODAFONE_VOIP.check, { outcome: "answered", srd: 0.2 });
    tm.call(TMOBILE_MOBILE.check, { outcome: "answered", srd: 0.75 });
    kpn.scrape(pAt(m));
    if (m >= 121) vz.scrape(pAt(m));
    if (m <= 120) tm.scrape(pAt(m));
  }
  return history;
}
