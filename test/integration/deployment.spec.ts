import { spawnSync } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import YAML from "yaml";
import { ROLES } from "../../lib/config";
import { METRICS } from "../../lib/metrics";
import { PROBE_PATHS } from "../../lib/probes";
import { K8sObject, k8sProblems } from "../helpers/k8s-schemas";
import { serverSuite } from "../helpers/servers";

/**
 * The deployment files (Dockerfile, docker-compose*.yml, k8s/, deploy/grafana/) held against the
 * code they deploy. No Docker engine or cluster runs in CI, so this is what stands between a typo
 * in a manifest and a deployment that never gets ready (docs/deployment.md).
 */

const ROOT = path.resolve(__dirname, "../..");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

/** Every variable lib/config.ts reads (`env.NAME`, or a helper given `env, "NAME"`): all a deployment may set. */
function gochatVariables(): Set<string> {
	const source = read("lib/config.ts");
	const names = [...source.matchAll(/\benv(?:\.([A-Z][A-Z0-9_]*)\b|, "([A-Z][A-Z0-9_]*)")/g)].map(m => m[1] ?? m[2]);
	return new Set(names);
}

const VARIABLES = gochatVariables();

/** The TypeScript source a `node dist/….js` command runs, if tsconfig.build.json compiles it; else null. */
function compiledSource(command: string[]): string | null {
	const [node, script] = command;
	if (node !== "node" || !script?.startsWith("dist/") || !script.endsWith(".js")) return null;
	const source = script.slice("dist/".length).replace(/\.js$/, ".ts");
	const include = (JSON.parse(read("tsconfig.build.json")) as { include: string[] }).include;
	const compiled = include.some(entry => source === entry || source.startsWith(`${entry}/`));
	return compiled && fs.existsSync(path.join(ROOT, source)) ? source : null;
}

// ---------- Kubernetes ----------

interface EnvVar {
	name: string;
	value?: string;
	valueFrom?: unknown;
}
interface Probe {
	httpGet?: { path: string; port: number | string };
}
interface Container {
	name: string;
	image: string;
	command?: string[];
	env?: EnvVar[];
	envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
	ports?: { name?: string; containerPort: number }[];
	readinessProbe?: Probe;
	livenessProbe?: Probe;
	startupProbe?: Probe;
	lifecycle?: { preStop?: { exec?: { command: string[] } } };
}
interface PodTemplate {
	metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
	spec: { containers: Container[]; terminationGracePeriodSeconds?: number };
}
interface Manifest {
	file: string;
	object: K8sObject;
}
type Spec = Record<string, unknown> & {
	template?: PodTemplate;
	selector?: { matchLabels?: Record<string, string> } & Record<string, string>;
};

function yamlFiles(dir: string): string[] {
	return fs
		.readdirSync(path.join(ROOT, dir), { withFileTypes: true })
		.flatMap(entry =>
			entry.isDirectory()
				? yamlFiles(path.join(dir, entry.name))
				: entry.name.endsWith(".yaml")
					? [path.join(dir, entry.name)]
					: []
		);
}

/** Every object of every manifest under k8s/ (the kustomizations are not objects). */
function k8sManifests(): Manifest[] {
	return yamlFiles("k8s")
		.filter(file => path.basename(file) !== "kustomization.yaml")
		.flatMap(file =>
			YAML.parseAllDocuments(read(file)).map(document => {
				if (document.errors.length) throw new Error(`${file}: ${document.errors[0].message}`);
				return { file, object: document.toJS() as K8sObject };
			})
		);
}

const MANIFESTS = k8sManifests();
const spec = (object: K8sObject) => (object.spec ?? {}) as Spec;
const named = (kind: string) => MANIFESTS.filter(m => m.object.kind === kind);
const isGoChatImage = (image: string) => image.split("/").pop()!.split(/[:@]/)[0] === "gochat";

/** Each GoChat container with the object and pod template it belongs to. */
function gochatContainers(): { manifest: Manifest; pod: PodTemplate; container: Container }[] {
	return MANIFESTS.flatMap(manifest => {
		const pod = spec(manifest.object).template;
		if (!pod) return [];
		return pod.spec.containers
			.filter(container => isGoChatImage(container.image))
			.map(container => ({ manifest, pod, container }));
	});
}

/** The variables a container gets, as Kubernetes resolves them: envFrom in order, then env. */
function containerEnv(container: Container): Map<string, string> {
	const env = new Map<string, string>();
	for (const source of container.envFrom ?? []) {
		const kind = source.configMapRef ? "ConfigMap" : "Secret";
		const name = (source.configMapRef ?? source.secretRef)!.name;
		const object = named(kind).find(m => m.object.metadata?.name === name)?.object;
		if (!object) throw new Error(`${container.name} reads the ${kind} ${name}, which no manifest defines`);
		const data = { ...(object.data as object), ...(object.stringData as object) } as Record<string, string>;
		for (const [key, value] of Object.entries(data)) env.set(key, value);
	}
	for (const variable of container.env ?? []) env.set(variable.name, variable.value ?? "(from a reference)");
	return env;
}

/** The number behind a probe's or Service's port: itself, or the container port of that name. */
function portNumber(containers: Container[], port: number | string): number | undefined {
	if (typeof port === "number") return port;
	return containers.flatMap(c => c.ports ?? []).find(p => p.name === port)?.containerPort;
}

const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
	Object.entries(selector).every(([key, value]) => labels[key] === value);

function roleDeployments() {
	return gochatContainers().filter(({ manifest }) => manifest.object.kind === "Deployment");
}

describe("Kubernetes manifests (k8s/)", () => {
	test("every manifest is a valid Kubernetes object: schema, types and no unknown field", () => {
		expect(MANIFESTS.length).toBeGreaterThan(10);
		expect(k8sProblems(MANIFESTS.map(m => m.object))).toEqual([]);
	});

	test("the schema check refuses a wrong type, a misspelt field and an unknown kind", () => {
		const gateway = structuredClone(named("Deployment").find(m => m.object.metadata?.name === "gochat-gateway")!);
		const wrongType = structuredClone(gateway.object);
		(spec(wrongType).template!.spec.containers[0].ports![0] as { containerPort: unknown }).containerPort = "3000";
		const misspelt = structuredClone(gateway.object);
		const container = spec(misspelt).template!.spec.containers[0] as Container & Record<string, unknown>;
		container.readinesProbe = container.readinessProbe;
		delete container.readinessProbe;
		const unknownKind = { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: { name: "x" } };

		const problems = k8sProblems([wrongType, misspelt, unknownKind]);
		expect(problems).toEqual(
			expect.arrayContaining([
				expect.stringMatching(/containerPort must be integer/),
				expect.stringMatching(/readinesProbe/),
				expect.stringMatching(/ServiceMonitor.*no schema/)
			])
		);
	});

	test("each kustomization lists every manifest of its folder except the Secret templates", () => {
		for (const dir of ["k8s", "k8s/servers"]) {
			const kustomization = YAML.parse(read(`${dir}/kustomization.yaml`)) as {
				resources: string[];
				namespace: string;
			};
			const manifests = fs
				.readdirSync(path.join(ROOT, dir))
				.filter(
					file => file.endsWith(".yaml") && file !== "kustomization.yaml" && !file.endsWith(".example.yaml")
				);
			expect([...kustomization.resources].sort()).toEqual(manifests.sort());
			expect(kustomization.namespace).toBe("gochat");
		}
		for (const { file, object } of MANIFESTS) {
			if (object.kind !== "Namespace") expect(`${file}: ${object.metadata?.namespace}`).toBe(`${file}: gochat`);
		}
	});

	test("one Deployment per role, each running only its role, none pinning a worker ID", () => {
		const roles = roleDeployments().map(({ container }) => containerEnv(container).get("SERVICES"));
		expect(roles.sort()).toEqual([...ROLES].sort());
		for (const { container } of gochatContainers()) expect(containerEnv(container).has("WORKER_ID")).toBe(false);
	});

	test("GoChat containers set only variables GoChat reads", () => {
		expect(VARIABLES).toContain("HEALTH_PORT");
		const unknown = gochatContainers().flatMap(({ manifest, container }) =>
			[...containerEnv(container).keys()]
				.filter(name => !VARIABLES.has(name))
				.map(name => `${manifest.file} ${container.name}: ${name}`)
		);
		expect(unknown).toEqual([]);
	});

	test("probes ask the code's paths on the HEALTH_PORT each container gets", () => {
		for (const { manifest, container } of roleDeployments()) {
			const where = `${manifest.object.metadata?.name}`;
			const healthPort = Number(containerEnv(container).get("HEALTH_PORT"));
			expect(`${where} ${container.readinessProbe?.httpGet?.path}`).toBe(`${where} ${PROBE_PATHS.ready}`);
			expect(`${where} ${container.livenessProbe?.httpGet?.path}`).toBe(`${where} ${PROBE_PATHS.health}`);
			const probes = [container.readinessProbe, container.livenessProbe, container.startupProbe].filter(Boolean);
			for (const probe of probes as Probe[]) {
				expect(Object.values(PROBE_PATHS)).toContain(probe.httpGet?.path);
				expect(`${where} ${portNumber([container], probe.httpGet!.port)}`).toBe(`${where} ${healthPort}`);
			}
		}
	});

	test("container ports and the metrics annotation are the PORT, HEALTH_PORT and METRICS_PORT each container gets", () => {
		for (const { manifest, pod, container } of roleDeployments()) {
			const env = containerEnv(container);
			const expected: Record<string, string | undefined> = {
				health: env.get("HEALTH_PORT"),
				metrics: env.get("METRICS_PORT")
			};
			if (env.get("SERVICES") === "gateway") expected.http = env.get("PORT");
			const ports = Object.fromEntries((container.ports ?? []).map(p => [p.name, String(p.containerPort)]));
			expect({ [manifest.object.metadata!.name!]: ports }).toEqual({
				[manifest.object.metadata!.name!]: expected
			});
			expect(pod.metadata?.annotations?.["prometheus.io/port"]).toBe(env.get("METRICS_PORT"));
		}
	});

	test("Services, the autoscaler and the disruption budgets point at pods that exist", () => {
		// Pods that serve (a Job's pod runs once and serves nothing).
		const pods = [...named("Deployment"), ...named("StatefulSet")].map(({ object }) => spec(object).template!);
		for (const { object } of named("Service")) {
			const service = object.metadata?.name;
			const selected = pods.filter(pod =>
				matches(spec(object).selector as Record<string, string>, pod.metadata?.labels)
			);
			expect(`${service}: ${selected.length} pod templates`).not.toBe(`${service}: 0 pod templates`);
			for (const { targetPort } of spec(object).ports as { targetPort: number | string }[]) {
				for (const pod of selected) {
					const found = portNumber(pod.spec.containers, targetPort) !== undefined;
					expect(
						`${service} → ${pod.metadata?.labels?.["app.kubernetes.io/component"]}:${targetPort} ${found}`
					).toMatch(/ true$/);
				}
			}
		}
		for (const { object } of named("HorizontalPodAutoscaler")) {
			const target = spec(object).scaleTargetRef as { kind: string; name: string };
			const deployment = named(target.kind).find(m => m.object.metadata?.name === target.name);
			expect(deployment).toBeDefined();
			// The autoscaler owns the count: a replicas field would reset it on every apply.
			expect(spec(deployment!.object).replicas).toBeUndefined();
		}
		for (const { manifest, pod } of roleDeployments()) {
			const budget = named("PodDisruptionBudget").find(({ object }) =>
				matches(spec(object).selector!.matchLabels!, pod.metadata?.labels)
			);
			expect(`${manifest.object.metadata?.name}: ${budget !== undefined}`).toBe(
				`${manifest.object.metadata?.name}: true`
			);
		}
	});

	test("a stopping pod leaves the endpoints, then drains within SHUTDOWN_TIMEOUT before it can be killed", () => {
		for (const { manifest, pod, container } of roleDeployments()) {
			const preStop = container.lifecycle?.preStop?.exec?.command ?? [];
			expect(preStop[0]).toBe("sleep");
			const pause = Number(preStop[1]);
			const shutdownTimeout = Number(containerEnv(container).get("SHUTDOWN_TIMEOUT") ?? 10);
			const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
			expect(`${manifest.object.metadata?.name}: ${grace > pause + shutdownTimeout}`).toBe(
				`${manifest.object.metadata?.name}: true`
			);
		}
	});

	test("the migration Job runs the compiled migration script and the services leave migrating to it", () => {
		const jobs = gochatContainers().filter(({ manifest }) => manifest.object.kind === "Job");
		expect(jobs).toHaveLength(1);
		expect(compiledSource(jobs[0].container.command ?? [])).toBe("scripts/migrate.ts");
		for (const { container } of roleDeployments()) {
			expect(containerEnv(container).get("MIGRATE_ON_START")).toBe("false");
		}
	});
});

// ---------- Docker Compose ----------

interface ComposeService {
	image?: string;
	build?: unknown;
	command?: string[];
	environment?: Record<string, string> | string[];
	ports?: string[];
	profiles?: string[];
	depends_on?: Record<string, { condition: string }>;
}
interface ComposeFile {
	services: Record<string, ComposeService>;
}

/** A compose file as Compose reads it (YAML merge keys resolved, ${…} left as written). */
const composeFile = (file: string) => YAML.parse(read(file), { merge: true }) as ComposeFile;

const isGoChatService = (service: ComposeService) => service.build !== undefined || isGoChatImage(service.image ?? "");

function composeEnv(service: ComposeService): Record<string, string> {
	const environment = service.environment ?? {};
	if (!Array.isArray(environment)) return environment;
	return Object.fromEntries(environment.map(entry => [entry.split("=")[0], entry.split("=").slice(1).join("=")]));
}

function gochatServices(compose: ComposeFile): [string, ComposeService][] {
	return Object.entries(compose.services).filter(([, service]) => isGoChatService(service));
}

describe("Docker Compose files", () => {
	const compose = composeFile("docker-compose.yml");
	const kafka = composeFile("docker-compose.kafka.yml");

	test("GoChat services set only variables GoChat reads, and no worker ID", () => {
		const unknown = [...gochatServices(compose), ...Object.entries(kafka.services)].flatMap(([name, service]) =>
			Object.keys(composeEnv(service))
				.filter(variable => !VARIABLES.has(variable) || variable === "WORKER_ID")
				.map(variable => `${name}: ${variable}`)
		);
		expect(unknown).toEqual([]);
	});

	test("every role runs; the two gateways publish PORT on host ports 3000 and 3001", () => {
		const services = gochatServices(compose);
		const roles = services.map(([, service]) => composeEnv(service).SERVICES).filter(Boolean);
		expect(new Set(roles)).toEqual(new Set(ROLES));
		const gateways = services.filter(([, service]) => composeEnv(service).SERVICES === "gateway");
		const published = gateways.map(([, service]) => {
			const [host, target] = service.ports![0].split(":");
			expect(target).toBe(composeEnv(service).PORT);
			return host;
		});
		expect(published.sort()).toEqual(["3000", "3001"]);
	});

	test("the services start after the one-shot migration job, which runs the compiled migration script", () => {
		const services = gochatServices(compose);
		const jobs = services.filter(([, service]) => service.command !== undefined);
		expect(jobs.map(([name]) => name)).toEqual(["migrate"]);
		expect(compiledSource(jobs[0][1].command!)).toBe("scripts/migrate.ts");
		for (const [name, service] of services.filter(([n]) => n !== "migrate")) {
			expect(`${name}: ${service.depends_on?.migrate?.condition}`).toBe(
				`${name}: service_completed_successfully`
			);
			expect(`${name}: ${composeEnv(service).MIGRATE_ON_START}`).toBe(`${name}: false`);
		}
	});

	test("the kafka override points every GoChat service's queue at the kafka profile's broker", () => {
		expect(compose.services.kafka.profiles).toEqual(["kafka"]);
		const services = gochatServices(compose)
			.map(([name]) => name)
			.filter(name => name !== "migrate");
		expect(Object.keys(kafka.services).sort()).toEqual(services.sort());
		for (const [name, service] of Object.entries(kafka.services)) {
			expect(`${name}: ${composeEnv(service).QUEUE_URL}`).toBe(`${name}: kafka://kafka:9092`);
			expect(service.depends_on?.kafka?.condition).toBe("service_healthy");
		}
	});

	serverSuite("docker-compose", "docker-compose config (Debian's docker-compose 1.29)", () => {
		let envFile: string;
		beforeAll(() => {
			// An empty env file: a developer's own .env must not change what is validated.
			envFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "gochat-compose-")), "empty.env");
			fs.writeFileSync(envFile, "");
		});
		afterAll(() => fs.rmSync(path.dirname(envFile), { recursive: true, force: true }));

		function config(args: string[], env: Record<string, string> = {}) {
			return spawnSync("docker-compose", ["--env-file", envFile, ...args, "config"], {
				cwd: ROOT,
				encoding: "utf8",
				env: { PATH: process.env.PATH ?? "", HOME: os.tmpdir(), ...env },
				timeout: 60_000
			});
		}
		const JWT_SECRET = "x".repeat(48);

		test("docker-compose.yml is valid", () => {
			const run = config(["-f", "docker-compose.yml"], { JWT_SECRET });
			expect(run.stderr).not.toMatch(/error|invalid/i);
			expect(run.status).toBe(0);
		});

		test("without JWT_SECRET it refuses to run and says what to set", () => {
			const run = config(["-f", "docker-compose.yml"]);
			expect(run.status).not.toBe(0);
			expect(run.stderr).toContain("set JWT_SECRET");
		});

		test("with the kafka profile and override, every GoChat service's queue is Kafka", () => {
			const run = config(["-f", "docker-compose.yml", "-f", "docker-compose.kafka.yml", "--profile", "kafka"], {
				JWT_SECRET
			});
			expect(run.status).toBe(0);
			const resolved = YAML.parse(run.stdout) as ComposeFile;
			expect(resolved.services.kafka).toBeDefined();
			for (const [name, service] of gochatServices(resolved).filter(([n]) => n !== "migrate")) {
				expect(`${name}: ${composeEnv(service).QUEUE_URL}`).toBe(`${name}: kafka://kafka:9092`);
				expect(`${name}: ${composeEnv(service).TRANSPORTER}`).toBe(`${name}: nats://nats:4222`);
			}
		});
	});
});

// ---------- Dockerfile ----------

interface Stage {
	name: string;
	from: string;
	instructions: { op: string; args: string }[];
}

/** The Dockerfile's stages and their instructions (continuation lines joined, comments dropped). */
function dockerfileStages(): Stage[] {
	const lines = read("Dockerfile")
		.replace(/\\\n/g, " ")
		.split("\n")
		.map(line => line.trim())
		.filter(line => line && !line.startsWith("#"));
	const stages: Stage[] = [];
	for (const line of lines) {
		const [op, ...rest] = line.split(/\s+/);
		const args = rest.join(" ");
		if (op.toUpperCase() === "FROM") {
			const [from, , name] = rest;
			stages.push({ name: name ?? from, from, instructions: [] });
		} else if (stages.length) {
			stages[stages.length - 1].instructions.push({ op: op.toUpperCase(), args });
		}
	}
	return stages;
}

describe("Dockerfile", () => {
	const stages = dockerfileStages();
	const runtime = stages[stages.length - 1];
	const all = (stage: Stage, op: string) => stage.instructions.filter(i => i.op === op).map(i => i.args);
	/** ENV a=1 b=2 in the runtime stage. */
	const env = Object.fromEntries(
		all(runtime, "ENV").flatMap(args => [...args.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)].map(m => [m[1], m[2]]))
	);

	test("runs the compiled server on a slim image, as a non-root user, with production dependencies only", () => {
		expect(runtime.from).toMatch(/-slim$/);
		expect(compiledSource(JSON.parse(all(runtime, "CMD")[0]))).toBe("server.ts");
		expect(all(runtime, "USER")).toEqual(["node"]);
		const copiedModules = all(runtime, "COPY").find(args => / node_modules$/.test(args))!;
		const depsStage = stages.find(stage => copiedModules.includes(`--from=${stage.name} `))!;
		expect(all(depsStage, "RUN").join(" ")).toContain("npm ci --omit=dev");
	});

	test("the build stage copies every folder and file tsconfig.build.json compiles", () => {
		const include = (JSON.parse(read("tsconfig.build.json")) as { include: string[] }).include;
		const build = stages.find(stage => all(stage, "RUN").some(args => args.includes("npm run build")))!;
		const copied = all(build, "COPY").flatMap(args => args.split(/\s+/).slice(0, -1));
		for (const entry of include) expect(copied).toContain(entry);
	});

	test("HEALTHCHECK asks the readiness path on HEALTH_PORT; ENV sets only GoChat variables; EXPOSE matches them", () => {
		const healthcheck = all(runtime, "HEALTHCHECK").join(" ");
		expect(healthcheck).toContain(`path: '${PROBE_PATHS.ready}'`);
		expect(healthcheck).toContain("port: process.env.HEALTH_PORT");
		expect(Object.keys(env).filter(name => !VARIABLES.has(name))).toEqual([]);
		const exposed = all(runtime, "EXPOSE").flatMap(args => args.split(/\s+/));
		expect(exposed.sort()).toEqual([env.PORT, env.HEALTH_PORT, env.METRICS_PORT].sort());
	});
});

// ---------- Grafana ----------

describe("Grafana dashboard (deploy/grafana/gochat.json)", () => {
	interface Panel {
		title: string;
		type: string;
		targets?: { expr: string }[];
	}
	const dashboard = JSON.parse(read("deploy/grafana/gochat.json")) as {
		panels: Panel[];
		templating: { list: { name: string }[] };
	};
	const queries = dashboard.panels.flatMap(panel => (panel.targets ?? []).map(target => target.expr));

	test("charts every GoChat metric under its Prometheus name", () => {
		// Moleculer's reporter turns dots into underscores and adds no _total; histograms chart their buckets.
		const missing = Object.values(METRICS)
			.map(name => name.replace(/[.-]/g, "_"))
			.filter(name => !queries.some(expr => new RegExp(`(?<![\\w])${name}(_bucket)?(?![\\w])`).test(expr)));
		expect(missing).toEqual([]);
	});

	test("every query is filtered by the dashboard's namespace variable", () => {
		expect(dashboard.templating.list.map(variable => variable.name)).toEqual(["datasource", "namespace", "node"]);
		for (const expr of queries) expect(expr).toContain('namespace=~"$namespace"');
	});
});
