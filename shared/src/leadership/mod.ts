// Public surface of the leadership module: the leader lease's decisions and the election of one instance per service.

export {
  Leadership,
  LeadershipLost,
  type LeadershipOptions,
  type LeadershipStatus,
  type LeaseEntry,
  type LeaseStore,
  type Term,
} from "./leadership.ts";
export { decideLease, holderName, type LeaseDecision, type LeaseTiming, type LeaseView, leaseExpired, releasedLease } from "./lease.ts";
export { createLeadershipMetrics, type LeadershipMetrics } from "./metrics.ts";
