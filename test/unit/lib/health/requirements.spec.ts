import fs from "fs";
import path from "path";
import { remoteNeeds, SERVICE_NEEDS } from "../../../../lib/health/requirements";

const SERVICES = path.resolve(__dirname, "../../../../services");

/** The services a source file calls: call(ctx, "x.y"), callFrom(broker, "x.y"), broker.call("x.y"), callAction("x.y"). */
function calledServices(source: string): Set<string> {
	const calls = /\b(?:call|callFrom|broker\.call|callAction)\(\s*(?:[\w.]+\s*,\s*)?"([\w.]+)\.\w+"/g;
	return new Set([...source.matchAll(calls)].map(match => match[1]));
}

/** Each service file's name, and the gateway's helpers counted as the "api" service's own. */
function serviceSources(): Array<{ name: string; source: string }> {
	const found: Array<{ name: string; source: string }> = [];
	for (const role of ["gateway", "logic", "task"]) {
		const dir = path.join(SERVICES, role);
		for (const file of fs.readdirSync(dir).filter(f => f.endsWith(".ts"))) {
			const source = fs.readFileSync(path.join(dir, file), "utf8");
			const name = role === "gateway" ? "api" : /^\tname: "([\w.]+)"/m.exec(source)?.[1];
			if (name) found.push({ name, source });
		}
	}
	return found;
}

describe("SERVICE_NEEDS", () => {
	test.each(serviceSources().map(s => [s.name, s.source]))(
		"lists every service %s calls (api.* pushes excepted: a cluster may have no gateway)",
		(name, source) => {
			const called = [...calledServices(source)].filter(s => s !== name && s !== "api");
			expect(called.filter(s => !SERVICE_NEEDS[name]?.includes(s))).toEqual([]);
		}
	);

	test("remoteNeeds leaves out the services the process runs itself", () => {
		expect(remoteNeeds(["messages", "delivery"])).toEqual([
			"repo.conversations",
			"repo.members",
			"repo.messages",
			"repo.presence",
			"task.fanout"
		]);
		expect(remoteNeeds(["repo.users", "repo.database"])).toEqual([]);
	});
});
