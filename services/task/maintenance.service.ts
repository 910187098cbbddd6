import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { call, serviceActions } from "../../lib/contracts";
import { NO_RETRY, WRITE_TIMEOUT_MS } from "../../lib/resilience";
import { ConfigThis, createConfigMixin } from "../../mixins/config.mixin";

type MaintenanceThis = Service & ConfigThis & { timer?: NodeJS.Timeout };

/** Sessions stay this long after expiry or logout (for audits), then go. */
const RETAIN_MS = 7 * 24 * 3600 * 1000;
const EVERY_MS = 3600 * 1000;
/** Guests deleted per round: short enough not to hold locks that others wait for. */
const GUEST_BATCH = 500;

/** Background housekeeping: deletes sessions that ended long ago and guests never used, hourly and on demand (REPL). */
const MaintenanceService: ServiceSchema<ServiceSettingSchema, MaintenanceThis> = {
	name: "task.maintenance",
	mixins: [createConfigMixin()],
	dependencies: ["repo.sessions", "repo.users", "repo.members"],

	actions: serviceActions("task.maintenance", {
		/** Returns how many sessions went. */
		pruneSessions: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			timeout: WRITE_TIMEOUT_MS,
			params: {},
			async handler(this: MaintenanceThis, ctx: Context): Promise<number> {
				const deleted = await call(ctx, "repo.sessions.prune", {
					before: new Date(Date.now() - RETAIN_MS).toISOString()
				});
				if (deleted > 0) this.logger.info(`Pruned ${deleted} ended session(s)`);
				return deleted;
			}
		},

		/**
		 * Guests idle for GUEST_IDLE_HOURS, and at least an access token's lifetime so none of
		 * them can still hold a valid one, who never joined a conversation nor sent a message.
		 * Each round takes their world membership, then their sessions, then the accounts, which
		 * repo deletes only if they are still idle. Returns how many went.
		 */
		pruneGuests: {
			visibility: "public",
			retryPolicy: NO_RETRY,
			// No deadline for the whole run: it loops until done, and each call has the usual one.
			timeout: 0,
			params: {
				batchSize: { type: "number", integer: true, min: 1, max: 10_000, optional: true, convert: true }
			},
			async handler(this: MaintenanceThis, ctx: Context<{ batchSize?: number }>): Promise<number> {
				const config = this.config;
				const idleMs = Math.max(config.guestIdleHours * 3600 * 1000, config.accessTokenTtlSeconds * 1000);
				const before = new Date(Date.now() - idleMs).toISOString();
				const limit = ctx.params.batchSize ?? GUEST_BATCH;
				let deleted = 0;
				for (;;) {
					const ids = await call(ctx, "repo.users.idleGuests", { before, limit });
					if (ids.length === 0) return deleted;
					await call(ctx, "repo.members.leaveWorld", { userIds: ids });
					await call(ctx, "repo.sessions.removeForUsers", { userIds: ids });
					const removed = await call(ctx, "repo.users.removeIdleGuests", { ids, before });
					deleted += removed;
					if (removed > 0) this.logger.info(`Pruned ${deleted} unused guest(s) so far`);
					// None of a full round went: asking again would return the same guests.
					if (ids.length < limit || removed === 0) return deleted;
				}
			}
		}
	}),

	started(this: MaintenanceThis) {
		const run = async () => {
			await this.broker
				.call("task.maintenance.pruneSessions")
				.catch(err => this.logger.warn("Session pruning failed:", err.message));
			await this.broker
				.call("task.maintenance.pruneGuests")
				.catch(err => this.logger.warn("Guest pruning failed:", err.message));
		};
		this.timer = setInterval(run, EVERY_MS);
		this.timer.unref();
	},

	async stopped(this: MaintenanceThis) {
		if (this.timer) clearInterval(this.timer);
	}
};

export default MaintenanceService;
