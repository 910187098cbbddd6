import { STATUS_CODES } from "http";
import { REST_BASE_PATH, REST_ROUTES, RestAction, RestRoute } from "../contracts/client";
import { ERROR_STATUS, ErrorCode } from "../errors";
import { COMPONENT_SCHEMAS, ref, RESULT_SCHEMAS } from "./components";
import { OPERATION_NOTES, TAGS } from "./operations";
import { JsonSchema, ObjectShape, paramsToShape } from "./params-schema";

/** Where the gateway serves the document and the page that renders it. */
export const OPENAPI_PATH = `${REST_BASE_PATH}/openapi.json`;
export const DOCS_PATH = "/api/docs";

export type OpenApiDocument = { openapi: "3.1.0"; paths: Record<string, Record<string, JsonSchema>> } & JsonSchema;

/** How an action answers 201 (the gateway's table): `alsoOk` when it answers 200 if it made nothing. */
export type CreatedActions = Partial<Record<string, { alsoOk?: boolean }>>;

export interface DocumentInput {
	version: string;
	/** Each REST action's declared params as the broker knows them; a missing one documents none. */
	params: Partial<Record<RestAction, Record<string, unknown>>>;
	created: CreatedActions;
}

const TOKEN_ERRORS: ErrorCode[] = ["UNAUTHORIZED", "TOKEN_INVALID", "TOKEN_EXPIRED", "TOKEN_REVOKED"];
const BODY_ERRORS: ErrorCode[] = ["MALFORMED_JSON", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"];
const ALWAYS: ErrorCode[] = ["SERVICE_UNAVAILABLE", "OVERLOADED"];
const RETRY_AFTER_STATUSES = new Set([429, 503]);

const json = (schema: JsonSchema) => ({ "application/json": { schema } });

/** "/groups/:id/members" → "/api/v1/groups/{id}/members". */
export function openApiPath(path: string): string {
	return REST_BASE_PATH + path.replace(/:(\w+)/g, "{$1}");
}

const pathParamsOf = (path: string) => [...path.matchAll(/:(\w+)/g)].map(match => match[1]);
const hasBody = (route: RestRoute) => route.method === "POST" || route.method === "PATCH";

/**
 * The error codes a route can answer: its own, and those every route of its kind shares. Any route
 * may answer INVALID_INPUT: a query or body nested too deep, a path that is not valid URL encoding.
 */
function errorCodesOf(action: RestAction, route: RestRoute): ErrorCode[] {
	const codes: ErrorCode[] = [
		"INVALID_INPUT",
		...(hasBody(route) ? BODY_ERRORS : []),
		...(route.public ? [] : TOKEN_ERRORS),
		...OPERATION_NOTES[action].errors,
		...ALWAYS
	];
	return [...new Set(codes)];
}

/** One response per status, its Error schema narrowed to that status's codes. */
function errorResponses(codes: ErrorCode[]): Record<string, JsonSchema> {
	const byStatus = new Map<number, ErrorCode[]>();
	for (const code of codes) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
	const responses: Record<string, JsonSchema> = {};
	for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
		const narrowed = { properties: { error: { properties: { code: { enum: list } } } } };
		responses[String(status)] = {
			description: `${STATUS_CODES[status]}: ${list.join(", ")}`,
			...(RETRY_AFTER_STATUSES.has(status)
				? { headers: { "Retry-After": { $ref: "#/components/headers/RetryAfter" } } }
				: {}),
			content: json({ allOf: [ref("Error"), narrowed] })
		};
	}
	return responses;
}

function successResponses(action: RestAction, created: CreatedActions): Record<string, JsonSchema> {
	const body = json(RESULT_SCHEMAS[action]);
	const createdAs = created[action];
	if (!createdAs) return { "200": { description: "OK", content: body } };
	return {
		...(createdAs.alsoOk ? { "200": { description: "OK: it existed already", content: body } } : {}),
		"201": {
			description: "Created",
			headers: { Location: { description: "Path of what was made", schema: { type: "string" } } },
			content: body
		}
	};
}

/** A body field; one the validator converts also takes its value as a string ("5"), as a query would send it. */
function bodyField(shape: ObjectShape, name: string): JsonSchema {
	const schema = shape.properties[name];
	if (!shape.converted.includes(name)) return schema;
	const note = "A numeric string is converted.";
	return { ...schema, description: schema.description ? `${schema.description} ${note}` : note };
}

function operation(action: RestAction, route: RestRoute, input: DocumentInput): JsonSchema {
	const shape = paramsToShape(input.params[action] ?? {});
	const inPath = pathParamsOf(route.path);
	// A path segment is a parameter even while its action's params are unknown (not announced yet).
	for (const name of inPath) shape.properties[name] ??= { type: "string" };
	const parameters = Object.entries(shape.properties)
		.filter(([name]) => inPath.includes(name) || !hasBody(route))
		.map(([name, schema]) => {
			const where = inPath.includes(name) ? "path" : "query";
			const { description, ...rest } = schema;
			return {
				name,
				in: where,
				required: where === "path" || shape.required.includes(name),
				...(description ? { description } : {}),
				schema: rest
			};
		});
	const bodyFields = Object.keys(shape.properties).filter(name => hasBody(route) && !inPath.includes(name));
	const bodyRequired = shape.required.filter(name => bodyFields.includes(name));
	const requestBody =
		bodyFields.length === 0
			? undefined
			: {
					required: bodyRequired.length > 0,
					content: json({
						type: "object",
						properties: Object.fromEntries(bodyFields.map(name => [name, bodyField(shape, name)])),
						...(bodyRequired.length > 0 ? { required: bodyRequired } : {})
					})
				};
	return {
		tags: [action.split(".")[0]],
		operationId: action,
		summary: OPERATION_NOTES[action].summary,
		...(route.public ? { security: [] } : {}),
		...(parameters.length > 0 ? { parameters } : {}),
		...(requestBody ? { requestBody } : {}),
		responses: {
			...successResponses(action, input.created),
			...errorResponses(errorCodesOf(action, route))
		}
	};
}

/** The document itself: public, answered by the gateway (api.openapi). */
const selfOperation = {
	tags: ["meta"],
	operationId: "api.openapi",
	summary: "This OpenAPI document",
	security: [],
	responses: { "200": { description: "OpenAPI 3.1 document", content: json({ type: "object" }) } }
};

/** The OpenAPI 3.1 document of every REST route (REST_ROUTES) with the params its action declares. */
export function buildOpenApiDocument(input: DocumentInput): OpenApiDocument {
	const paths: Record<string, Record<string, JsonSchema>> = { [OPENAPI_PATH]: { get: selfOperation } };
	for (const [action, route] of Object.entries(REST_ROUTES) as [RestAction, RestRoute][]) {
		const path = openApiPath(route.path);
		paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation(action, route, input) };
	}
	return {
		openapi: "3.1.0",
		info: {
			title: "GoChat REST API",
			version: input.version,
			description:
				"GoChat's REST API, generated from the routes the gateway serves and the params its actions declare. " +
				"Every route and error is described in docs/api.md; realtime (Socket.IO) in docs/realtime.md. " +
				`A browsable page: ${DOCS_PATH}.`
		},
		jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
		servers: [{ url: "/" }],
		security: [{ bearerAuth: [] }],
		tags: TAGS,
		paths,
		components: {
			securitySchemes: {
				bearerAuth: {
					type: "http",
					scheme: "bearer",
					bearerFormat: "JWT",
					description: "The accessToken of register, login, guest or refresh."
				}
			},
			headers: {
				RetryAfter: { description: "Seconds to wait before retrying", schema: { type: "integer", minimum: 0 } }
			},
			schemas: COMPONENT_SCHEMAS
		}
	};
}
