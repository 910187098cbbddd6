import vm from "vm";
import Ajv2020 from "ajv/dist/2020";
import type { ValidateFunction } from "ajv";
import { version } from "../../package.json";
import { RunningGoChat, startGoChat } from "../helpers/gochat";
import { Account, Api, register, Reply } from "../helpers/http";

/**
 * GET /api/v1/openapi.json against the gateway that serves it: a valid OpenAPI 3.1 document, the
 * same routes as the gateway, real answers that match its schemas, and a page to browse it.
 */

type Schema = Record<string, any>;
interface Operation {
	method: string;
	path: string;
	op: Schema;
}

/** Routes the gateway serves that are not part of the REST API: the probes and the page. */
const NOT_API = ["GET /health", "GET /ready", "GET /api/docs"];

const pointer = (...parts: string[]) => parts.map(part => part.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");

function operationsOf(doc: Schema): Operation[] {
	return Object.entries(doc.paths as Record<string, Schema>).flatMap(([path, item]) =>
		Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, op }))
	);
}

/** Every `$ref` anywhere in `value`, with where it was found. */
function refsIn(value: unknown, at = "#"): { ref: string; at: string }[] {
	if (!value || typeof value !== "object") return [];
	return Object.entries(value).flatMap(([key, child]) =>
		key === "$ref" && typeof child === "string" ? [{ ref: child, at }] : refsIn(child, `${at}/${key}`)
	);
}

function resolvePointer(doc: unknown, ref: string): unknown {
	return ref
		.replace(/^#\//, "")
		.split("/")
		.map(part => part.replace(/~1/g, "/").replace(/~0/g, "~"))
		.reduce<any>((node, part) => (node && typeof node === "object" ? node[part] : undefined), doc);
}

/** A copy in which every object schema allows no fields it does not list: an undocumented field fails. */
function closed(value: unknown): unknown {
	if (Array.isArray(value)) return value.map(closed);
	if (!value || typeof value !== "object") return value;
	const copy: Schema = Object.fromEntries(Object.entries(value).map(([key, child]) => [key, closed(child)]));
	if (copy.type === "object" && copy.properties && copy.additionalProperties === undefined)
		copy.additionalProperties = false;
	return copy;
}

function newAjv() {
	const ajv = new Ajv2020({ strict: false, allErrors: true });
	ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
	return ajv;
}

describe("OpenAPI document", () => {
	let gochat: RunningGoChat;
	let anonymous: Api;
	let doc: Schema;
	let ajv: Ajv2020;
	const validators = new Map<string, ValidateFunction>();

	/** The schema at `path` of document `id` ("served" or "closed"), compiled once. */
	const validatorAt = (id: string, path: string) => {
		const key = `${id}#/${path}`;
		if (!validators.has(key)) validators.set(key, ajv.compile({ $ref: key }));
		return validators.get(key)!;
	};
	const operation = (action: string) => {
		const found = operationsOf(doc).find(({ op }) => op.operationId === action);
		if (!found) throw new Error(`no operation ${action} in the document`);
		return found;
	};

	beforeAll(async () => {
		gochat = await startGoChat();
		anonymous = new Api(gochat.baseUrl);
		const res = await anonymous.get("/api/v1/openapi.json");
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toMatch(/^application\/json/);
		doc = res.body;
		ajv = newAjv();
		ajv.addSchema(doc, "served");
		ajv.addSchema(closed(doc) as Schema, "closed");
	});
	afterAll(() => gochat?.stop());

	describe("is a valid OpenAPI 3.1 document", () => {
		test("with the header fields, a bearer scheme and an operation ID and responses on every operation", () => {
			expect(doc.openapi).toBe("3.1.0");
			expect(doc.info).toMatchObject({
				title: expect.any(String),
				version
			});
			expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
			const tags = new Set((doc.tags as { name: string }[]).map(tag => tag.name));
			const problems = operationsOf(doc).flatMap(({ method, path, op }) => [
				...(typeof op.operationId === "string" ? [] : [`${method} ${path}: no operationId`]),
				...(typeof op.summary === "string" && op.summary ? [] : [`${method} ${path}: no summary`]),
				...(op.responses && Object.keys(op.responses).length > 0 ? [] : [`${method} ${path}: no responses`]),
				...(op.tags ?? [])
					.filter((tag: string) => !tags.has(tag))
					.map((tag: string) => `${method} ${path}: tag ${tag}`),
				...(op.parameters ?? [])
					.filter((p: Schema) => p.in === "path" && !path.includes(`{${p.name}}`))
					.map((p: Schema) => `${method} ${path}: path parameter ${p.name} not in the path`)
			]);
			expect(problems).toEqual([]);
			const ids = operationsOf(doc).map(({ op }) => op.operationId);
			expect(new Set(ids).size).toBe(ids.length);
		});

		test("every $ref resolves", () => {
			const broken = refsIn(doc).filter(
				({ ref }) => !ref.startsWith("#/") || resolvePointer(doc, ref) === undefined
			);
			expect(broken).toEqual([]);
		});

		test("every schema in it compiles as JSON Schema 2020-12", () => {
			const paths: string[] = Object.keys(doc.components.schemas).map(name =>
				pointer("components", "schemas", name)
			);
			for (const { method, path, op } of operationsOf(doc)) {
				const at = (...parts: string[]) => pointer("paths", path, method.toLowerCase(), ...parts);
				(op.parameters ?? []).forEach((_: unknown, i: number) =>
					paths.push(at("parameters", String(i), "schema"))
				);
				if (op.requestBody) paths.push(at("requestBody", "content", "application/json", "schema"));
				for (const [status, response] of Object.entries(op.responses as Record<string, Schema>)) {
					if (response.content) paths.push(at("responses", status, "content", "application/json", "schema"));
				}
			}
			const failures = paths.flatMap(path => {
				try {
					validatorAt("served", path);
					return [];
				} catch (err) {
					return [`${path}: ${(err as Error).message}`];
				}
			});
			expect(failures).toEqual([]);
		});
	});

	test("lists exactly the routes the gateway serves (the probes and /api/docs aside; openapi.json itself included)", () => {
		const service = gochat.broker.getLocalService("api") as unknown as {
			aliases: { method: string; fullPath: string; action: string }[];
		};
		const served = service.aliases.map(alias => `${alias.method} ${alias.fullPath}`);
		const documented = operationsOf(doc).map(
			({ method, path }) => `${method} ${path.replace(/\{(\w+)\}/g, ":$1")}`
		);
		expect(served).toEqual(expect.arrayContaining(NOT_API));
		const api = served.filter(route => !NOT_API.includes(route));
		expect({ servedNotDocumented: api.filter(route => !documented.includes(route)) }).toEqual({
			servedNotDocumented: []
		});
		expect({ documentedNotServed: documented.filter(route => !api.includes(route)) }).toEqual({
			documentedNotServed: []
		});
		// The same action behind each route.
		const actionOf = new Map(service.aliases.map(alias => [`${alias.method} ${alias.fullPath}`, alias.action]));
		const mismatched = operationsOf(doc)
			.map(({ method, path, op }) => [`${method} ${path.replace(/\{(\w+)\}/g, ":$1")}`, op.operationId])
			.filter(([route, id]) => actionOf.get(route) !== id);
		expect(mismatched).toEqual([]);
	});

	describe("describes what the server really answers", () => {
		const checked = new Set<string>();

		/** The reply matches the document's schema for its operation and status; error bodies the narrowed Error schema. */
		function conforms(action: string, reply: Reply): any {
			const { method, path, op } = operation(action);
			const status = String(reply.status);
			if (!op.responses[status]) {
				throw new Error(
					`${action} answered ${status}, which the document does not list: ${JSON.stringify(reply.body)}`
				);
			}
			const at = pointer(
				"paths",
				path,
				method.toLowerCase(),
				"responses",
				status,
				"content",
				"application/json",
				"schema"
			);
			const validate = validatorAt("closed", at);
			if (!validate(reply.body)) {
				throw new Error(
					`${action} ${status} does not match the document: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(reply.body)}`
				);
			}
			if (reply.status >= 400) {
				const error = validatorAt("closed", pointer("components", "schemas", "Error"));
				expect(error(reply.body)).toBe(true);
			} else checked.add(action);
			// 201 says where what was made lives (the gateway's CREATED table, which the document reads too).
			if (reply.status === 201) expect(reply.headers.get("location")).toMatch(/^\/api\/v1\//);
			return reply.body;
		}

		let alice: Account;
		let bob: Account;
		let carol: Account;

		beforeAll(async () => {
			alice = await register(anonymous, "alice");
			bob = await register(anonymous, "bob");
			carol = await register(anonymous, "carol");
		});

		test("auth: register, login, guest, refresh, logout, and their refusals", async () => {
			const username = `oa_${process.pid % 1000}_${Date.now() % 100000}`;
			conforms(
				"auth.register",
				await anonymous.post("/api/v1/auth/register", { username, password: "correct horse" })
			);
			conforms(
				"auth.register",
				await anonymous.post("/api/v1/auth/register", { username, password: "correct horse" })
			);
			const login = conforms(
				"auth.login",
				await anonymous.post("/api/v1/auth/login", { username, password: "correct horse" })
			);
			conforms("auth.login", await anonymous.post("/api/v1/auth/login", { username, password: "wrong horse" }));
			const guest = conforms(
				"auth.guest",
				await anonymous.post("/api/v1/auth/guest", { displayName: "Visitor" })
			);
			conforms(
				"auth.refresh",
				await anonymous.post("/api/v1/auth/refresh", { refreshToken: login.refreshToken })
			);
			conforms("auth.refresh", await anonymous.post("/api/v1/auth/refresh", { refreshToken: "nope" }));
			const asGuest = anonymous.as(guest.accessToken);
			conforms("auth.logout", await asGuest.post("/api/v1/auth/logout"));
			conforms("auth.logout", await asGuest.post("/api/v1/auth/logout"));
			conforms("auth.logout", await anonymous.post("/api/v1/auth/logout"));
		});

		test("users: me, update, search, get", async () => {
			conforms("users.me", await alice.api.get("/api/v1/users/me"));
			conforms("users.updateMe", await alice.api.patch("/api/v1/users/me", { displayName: "Alice L." }));
			conforms("users.updateMe", await alice.api.patch("/api/v1/users/me", { avatarUrl: "ftp://x" }));
			const search = conforms("users.search", await alice.api.get(`/api/v1/users?q=bob&limit=5`));
			expect(search.users.length).toBeGreaterThan(0);
			conforms("users.get", await alice.api.get(`/api/v1/users/${bob.user.id}`));
			conforms("users.get", await alice.api.get("/api/v1/users/1"));
			conforms("users.get", await alice.api.get("/api/v1/users/007"));
		});

		test("conversations and messages: open, list, send, history, read", async () => {
			const opened = conforms(
				"conversations.openDirect",
				await alice.api.post("/api/v1/conversations/direct", { userId: bob.user.id })
			);
			const again = await alice.api.post("/api/v1/conversations/direct", { userId: bob.user.id });
			expect(again.status).toBe(200);
			conforms("conversations.openDirect", again);
			const id = opened.conversation.id;
			const send = (clientMsgId: string) =>
				alice.api.post(`/api/v1/conversations/${id}/messages`, { clientMsgId, type: "text", content: "hi" });
			conforms("messages.send", await send("m1"));
			conforms("messages.send", await send("m1"));
			conforms(
				"messages.send",
				await alice.api.post("/api/v1/conversations/nope/messages", {
					clientMsgId: "m2",
					type: "text",
					content: "x"
				})
			);
			conforms("messages.history", await bob.api.get(`/api/v1/conversations/${id}/messages?limit=10`));
			conforms("messages.history", await carol.api.get(`/api/v1/conversations/${id}/messages`));
			conforms("conversations.markRead", await bob.api.post(`/api/v1/conversations/${id}/read`, { seq: 1 }));
			conforms("presence.query", await alice.api.get(`/api/v1/presence?userIds=${bob.user.id},${carol.user.id}`));
			conforms("presence.query", await alice.api.get("/api/v1/presence?userIds=x"));
			const list = conforms("conversations.list", await bob.api.get("/api/v1/conversations?limit=1"));
			conforms("conversations.list", await bob.api.get(`/api/v1/conversations?cursor=${list.nextCursor}`));
		});

		test("groups: create, get, members, add, role, remove, block, unblock, leave", async () => {
			const created = conforms(
				"groups.create",
				await alice.api.post("/api/v1/groups", { name: "Team", memberIds: [bob.user.id] })
			);
			const group = `/api/v1/groups/${created.group.id}`;
			conforms("groups.get", await alice.api.get(group));
			conforms("groups.get", await carol.api.get(group));
			conforms("groups.members", await bob.api.get(`${group}/members?limit=1`));
			conforms("groups.addMembers", await bob.api.post(`${group}/members`, { userIds: [carol.user.id] }));
			conforms("groups.addMembers", await alice.api.post(`${group}/members`, { userIds: [carol.user.id] }));
			conforms("groups.setRole", await alice.api.patch(`${group}/members/${carol.user.id}`, { role: "admin" }));
			conforms("groups.setRole", await bob.api.patch(`${group}/members/${carol.user.id}`, { role: "member" }));
			conforms("groups.removeMember", await alice.api.delete(`${group}/members/${carol.user.id}`));
			conforms("groups.removeMember", await alice.api.delete(`${group}/members/${carol.user.id}`));
			conforms("groups.block", await carol.api.post(`${group}/block`));
			conforms("groups.unblock", await carol.api.delete(`${group}/block`));
			conforms("groups.leave", await bob.api.post(`${group}/leave`));
			conforms("groups.leave", await bob.api.post(`${group}/leave`));
		});

		test("the document itself, and every operation was answered successfully at least once above", async () => {
			conforms("api.openapi", await anonymous.get("/api/v1/openapi.json"));
			const all = operationsOf(doc).map(({ op }) => op.operationId as string);
			expect(all.filter(action => !checked.has(action))).toEqual([]);
		});
	});

	test("a body the document calls invalid (required fields missing) is refused with 400 naming them", async () => {
		const alice = await register(anonymous, "strict");
		const cases = operationsOf(doc).filter(({ op }) => op.requestBody?.content["application/json"].schema.required);
		expect(cases.length).toBeGreaterThan(0);
		const problems: string[] = [];
		for (const { method, path, op } of cases) {
			const at = pointer(
				"paths",
				path,
				method.toLowerCase(),
				"requestBody",
				"content",
				"application/json",
				"schema"
			);
			const required: string[] =
				resolvePointer(doc, `#/${at}`) && (resolvePointer(doc, `#/${at}`) as Schema).required;
			expect(validatorAt("served", at)({})).toBe(false);
			const api = op.security?.length === 0 ? anonymous : alice.api;
			const reply = await api.request(method, path.replace(/\{\w+\}/g, "1"), {});
			const missing = (reply.body?.error?.details ?? []).map((d: { field: string }) => d.field);
			if (reply.status !== 400 || reply.body.error.code !== "INVALID_INPUT")
				problems.push(`${op.operationId}: ${reply.status} ${JSON.stringify(reply.body)}`);
			else if (!required.every(field => missing.includes(field)))
				problems.push(
					`${op.operationId}: refused, but without naming ${required.join(", ")}: ${missing.join(", ")}`
				);
		}
		expect(problems).toEqual([]);
	});

	test("/api/docs is a self-contained page that renders the document", async () => {
		const res = await fetch(`${gochat.baseUrl}/api/docs`);
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toMatch(/^text\/html/);
		expect(res.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
		const html = await res.text();
		expect(html).not.toMatch(/https?:\/\//);
		expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="(?!data:)/i);
		expect(html).toContain("/api/v1/openapi.json");
		// Its script at least parses; what it renders is text nodes only (no innerHTML).
		const script = /<script>([\s\S]*)<\/script>/.exec(html)?.[1] ?? "";
		expect(() => new vm.Script(script)).not.toThrow();
		expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
	});
});
