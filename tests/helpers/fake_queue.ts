/** A fake queue and leased units for the scheduler and watchdog tests. */
import type { LeasedUnit } from "../../core/contracts/mod.ts";
import type { Queue } from "../../core/queue/mod.ts";

/** A one-recipient leased unit `m<n>.0` to dest.test. */
export function leasedUnit(n: number, token = `t${n}`): LeasedUnit {
  return {
    v: 1,
    unitId: `m${n}.0`,
    messageId: `m${n}`,
    domain: "dest.test",
    sender: "a@origin.test",
    attempts: 1,
    createdAt: 0,
    leaseToken: token,
    recipients: [`r${n}@dest.test`],
  };
}

/** A queue that hands out `due` units and records what comes back. */
export function fakeQueue(due: LeasedUnit[]) {
  const calls = {
    leases: 0,
    taking: 0,
    stopped: 0,
    givenBack: [] as string[],
    waitingBefore: [] as number[],
  };
  let listener = () => {};
  const queue: Queue = {
    kind: "embedded",
    ready: true,
    enqueue: () => Promise.resolve(),
    lease: (limit) => {
      calls.leases++;
      return Promise.resolve(due.splice(0, limit));
    },
    settle: () => Promise.resolve(0),
    release: () => {},
    fail: () => Promise.resolve([]),
    resume: () => Promise.resolve(0),
    retryNow: () => Promise.resolve(0),
    claim: () => Promise.resolve([]),
    hold: () => Promise.resolve(),
    startTaking: () => {
      calls.taking++;
      return Promise.resolve();
    },
    stopTaking: () => {
      calls.stopped++;
      return Promise.resolve(0);
    },
    giveBack: (units) => {
      calls.givenBack.push(...units.map((u) => u.unitId));
      return Promise.resolve();
    },
    returnWaiting: (before) => {
      calls.waitingBefore.push(before);
      return [];
    },
    recover: () => Promise.resolve(0),
    nextDueAt: () => Promise.resolve(null),
    onAvailable: (l) => listener = l,
    close: () => Promise.resolve(),
  };
  return { queue, calls, push: () => listener() };
}
