// The leadership's Prometheus metrics, the same in every service that elects a leader.
import { Counter, Gauge, type Registry } from "prom-client";

/** The leadership's metrics on `registry`. */
export function createLeadershipMetrics(registry: Registry) {
  const registers = [registry];
  return {
    leader: new Gauge({ name: "x0_leader", help: "1 while this instance is its service's leader (holds the leader lease), 0 while it stands by.", registers }),
    elections: new Counter({ name: "x0_leader_elections_total", help: "Times this instance became its service's leader.", registers }),
  };
}

/** The leadership's metrics. */
export type LeadershipMetrics = ReturnType<typeof createLeadershipMetrics>;
