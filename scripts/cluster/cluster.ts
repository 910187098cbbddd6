import { createMembers, Member, running, spawnMember } from "./members";
import { startObserver, unseenPairs } from "./observer";
import { ClusterOptions } from "./options";
import { StatusTable } from "./status";

const POLL_MS = 250;

/** The five processes: starts them, watches them become ready and find each other, and stops them. */
export class Cluster {
	private readonly members: Member[];
	private readonly table: StatusTable;
	private stopping = false;
	private readonly exits: Promise<void>[] = [];
	private stopRequested!: () => void;
	private readonly stopBegun = new Promise<void>(resolve => (this.stopRequested = resolve));
	failed = false;

	constructor(
		private readonly options: ClusterOptions,
		healthPorts: number[],
		private readonly env: NodeJS.ProcessEnv
	) {
		this.members = createMembers(options, healthPorts);
		this.table = new StatusTable(this.members, options.verbose);
	}

	get gatewayUrls(): string[] {
		return this.members.filter(m => m.port).map(m => `http://127.0.0.1:${m.port}`);
	}

	start(): void {
		for (const member of this.members) this.spawn(member);
		this.table.draw();
	}

	/** A process that exits before a stop was asked for fails the cluster and stops the rest. */
	private spawn(member: Member): void {
		const child = spawnMember(member, this.env, this.options.verbose);
		this.exits.push(
			new Promise(resolve =>
				child.once("exit", code => {
					member.exitCode = code;
					const expected = this.stopping;
					member.state = expected && code === 0 ? "stopped" : "failed";
					if (member.state === "failed") this.failed = true;
					this.table.update(member);
					if (!expected) {
						this.report(
							`${member.name} exited unexpectedly (code ${code ?? child.signalCode}); its last lines:`
						);
						this.table.printTail(member);
						void this.stop("SIGTERM");
					}
					resolve();
				})
			)
		);
		child.once("spawn", () => {
			if (member.state === "starting") {
				member.state = "up";
				this.table.update(member);
			}
		});
	}

	/** Polls every /ready until all answer 200; false (naming the laggards) after the ready timeout. */
	async waitUntilReady(): Promise<boolean> {
		const deadline = Date.now() + this.options.readyTimeoutSeconds * 1000;
		while (!this.stopping) {
			const waiting = this.members.filter(m => m.state !== "ready");
			if (waiting.length === 0) return true;
			if (Date.now() > deadline) {
				for (const member of waiting) {
					this.report(
						`${member.name} is not ready after ${this.options.readyTimeoutSeconds} s: ${member.lastRefusal ?? "no answer on its HEALTH_PORT"}`
					);
					this.table.printTail(member);
				}
				return false;
			}
			await Promise.all(waiting.map(member => this.probe(member)));
			await new Promise(resolve => setTimeout(resolve, POLL_MS));
		}
		return false;
	}

	private async probe(member: Member): Promise<void> {
		try {
			const res = await fetch(`http://127.0.0.1:${member.healthPort}/ready`, {
				signal: AbortSignal.timeout(2000)
			});
			const body = await res.text();
			if (res.ok && member.state === "up") {
				member.state = "ready";
				this.table.update(member);
			} else if (!res.ok) {
				member.lastRefusal = `${res.status} ${body}`;
			}
		} catch (err) {
			member.lastRefusal = (err as Error).message;
		}
	}

	/**
	 * Ready is each process's own view; a node learns of a new one only at its next etcd heartbeat
	 * (up to 5 s), and until then cannot push to its sockets. So "cluster ready" waits until every
	 * node lists every other one, asked through a short-lived observer node in the same namespace.
	 */
	async waitUntilConnected(): Promise<boolean> {
		const observer = await startObserver(this.options);
		try {
			const names = this.members.map(m => m.name);
			const deadline = Date.now() + this.options.readyTimeoutSeconds * 1000;
			while (!this.stopping) {
				const unseen = await unseenPairs(observer, names);
				if (unseen.length === 0) return true;
				if (Date.now() > deadline) {
					this.report(
						`these nodes do not see each other after ${this.options.readyTimeoutSeconds} s: ${unseen.join(", ")}`
					);
					return false;
				}
				await new Promise(resolve => setTimeout(resolve, POLL_MS));
			}
			return false;
		} finally {
			await observer.stop();
		}
	}

	/** Sends `signal` to every process still running, waits for them, and SIGKILLs those past `graceMs`. */
	async stop(signal: NodeJS.Signals, graceMs = 30_000): Promise<void> {
		if (this.stopping) return;
		this.stopping = true;
		this.stopRequested();
		for (const member of this.members) {
			if (!running(member)) continue;
			member.state = "stopping";
			this.table.update(member);
			member.child.kill(signal);
		}
		const killer = setTimeout(() => this.kill(), graceMs);
		await Promise.all(this.exits);
		clearTimeout(killer);
	}

	/** Resolves once a stop was asked for (a signal, a process that died) and every process has exited. */
	async stopped(): Promise<void> {
		await this.stopBegun;
		await Promise.all(this.exits);
	}

	/** Ends every process at once (a second Ctrl-C, or a stop that took too long). */
	kill(): void {
		for (const member of this.members) if (running(member)) member.child.kill("SIGKILL");
	}

	report(line: string): void {
		this.table.report(line);
	}
}
