import { REST_ROUTES } from "../../../../lib/contracts/client";
import { buildOpenApiDocument, openApiPath, OPENAPI_PATH } from "../../../../lib/openapi/document";
import { idRule } from "../../../../lib/validation";

const build = () =>
	buildOpenApiDocument({
		version: "9.9.9",
		params: {
			"users.get": { id: idRule },
			"users.search": { q: "string", limit: { type: "number", integer: true, convert: true, optional: true } },
			"groups.addMembers": { id: idRule, userIds: { type: "array", items: idRule, min: 1 } },
			"conversations.markRead": { conversationId: "string", seq: { type: "number", convert: true } }
		},
		created: { "groups.create": {}, "conversations.openDirect": { alsoOk: true } }
	});

describe("the OpenAPI document", () => {
	test("has one operation per REST route, named by its action, and itself", () => {
		const doc = build();
		const ids = Object.values(doc.paths).flatMap(item => Object.values(item).map(op => op.operationId));
		expect(ids.sort()).toEqual([...Object.keys(REST_ROUTES), "api.openapi"].sort());
		expect(doc.info).toMatchObject({ version: "9.9.9" });
		expect(doc.paths[OPENAPI_PATH].get.security).toEqual([]);
		expect(openApiPath("/groups/:id/members/:userId")).toBe("/api/v1/groups/{id}/members/{userId}");
	});

	test("path params from :segments, query params for GET, a JSON body for POST", () => {
		const { paths } = build();
		expect(paths["/api/v1/users/{id}"].get.parameters).toEqual([
			expect.objectContaining({ name: "id", in: "path", required: true })
		]);
		expect(paths["/api/v1/users"].get.parameters).toEqual([
			expect.objectContaining({ name: "q", in: "query", required: true }),
			expect.objectContaining({ name: "limit", in: "query", required: false })
		]);
		const add = paths["/api/v1/groups/{id}/members"].post;
		expect(add.parameters).toEqual([expect.objectContaining({ name: "id", in: "path" })]);
		expect(add.requestBody).toMatchObject({
			required: true,
			content: {
				"application/json": { schema: { required: ["userIds"], properties: { userIds: { minItems: 1 } } } }
			}
		});
		const read = paths["/api/v1/conversations/{conversationId}/read"].post;
		expect((read.requestBody as any).content["application/json"].schema.properties.seq.description).toMatch(
			/numeric string/
		);
	});

	test("a route whose action's params are not known yet still declares its path params", () => {
		const { paths } = build();
		expect(paths["/api/v1/groups/{id}/members/{userId}"].delete.parameters).toEqual([
			expect.objectContaining({ name: "id", in: "path", required: true }),
			expect.objectContaining({ name: "userId", in: "path", required: true })
		]);
	});

	test("201 for the actions the gateway answers so, 200 too where it may have made nothing", () => {
		const { paths } = build();
		expect(Object.keys(paths["/api/v1/groups"].post.responses as object)).toContain("201");
		expect(Object.keys(paths["/api/v1/groups"].post.responses as object)).not.toContain("200");
		expect(Object.keys(paths["/api/v1/conversations/direct"].post.responses as object)).toEqual(
			expect.arrayContaining(["200", "201"])
		);
	});

	test("errors: token errors on authenticated routes only, Retry-After on 429 and 503, codes per status", () => {
		const { paths } = build();
		const login = paths["/api/v1/auth/login"].post;
		const me = paths["/api/v1/users/me"].get;
		expect(login.security).toEqual([]);
		expect(me.security).toBeUndefined();
		const responses = (op: typeof me) => op.responses as Record<string, any>;
		expect(responses(me)["401"].description).toMatch(/TOKEN_EXPIRED/);
		expect(responses(login)["401"].description).toBe("Unauthorized: INVALID_CREDENTIALS");
		expect(responses(login)["429"].headers["Retry-After"]).toBeDefined();
		expect(responses(me)["503"].headers["Retry-After"]).toBeDefined();
		expect(responses(login)["400"].content["application/json"].schema.allOf[1]).toEqual({
			properties: { error: { properties: { code: { enum: ["INVALID_INPUT", "MALFORMED_JSON"] } } } }
		});
		expect(responses(me)["400"].description).toBe("Bad Request: INVALID_INPUT");
	});
});
