import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call } from "../../lib/actions";

type MaintenanceThis = Service & { timer?: NodeJS.Timeout };

/** Sessions stay this long after expiry or logout (for audits), then go. */
const RETAIN_MS = 7 * 24 * 3600 * 1000;
const EVERY_MS = 3600 * 1000;

/** Background housekeeping: deletes sessions that ended long ago, hourly and on demand. */
const MaintenanceService: ServiceSchema<ServiceSettingSchema, MaintenanceThis> = {
	name: "task.maintenance",
	dependencies: ["repo.sessions"],

	actions: {
		pruneSessions: {
			params: {},
			async handler(this: MaintenanceThis, ctx: Context): Promise<{ deleted: number }> {
				const deleted = await call(ctx, "repo.sessions.prune", { before: new Date(Date.now() - RETAIN_MS).toISOString() });
				if (deleted > 0) this.logger.info(`Pruned ${deleted} ended session(s)`);
				return { deleted };
			}
		}
	},

	started(this: MaintenanceThis) {
		const run = () => this.broker.call("task.maintenance.pruneSessions").catch(err => this.logger.warn("Session pruning failed:", err.message));
		this.timer = setInterval(run, EVERY_MS);
		this.timer.unref();
	},

	async stopped(this: MaintenanceThis) {
		if (this.timer) clearInterval(this.timer);
	}
};

export default MaintenanceService;
