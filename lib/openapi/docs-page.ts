import { OPENAPI_PATH } from "./document";

/**
 * The browsable page of the OpenAPI document (GET /api/docs): one self-contained HTML file that
 * fetches the document from this server and renders it. Nothing is loaded from elsewhere (many
 * deployments have no Internet), and everything taken from the document goes into the page as text
 * nodes, never as markup.
 */

const STYLE = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5d6677; --line: #d8dde6; --bg: #fff; --code: #f3f5f8; }
@media (prefers-color-scheme: dark) { :root { --fg: #e4e8ef; --muted: #9aa3b2; --line: #323a48; --bg: #151922; --code: #1e2430; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1100px; margin: 0 auto; padding: 16px; }
h1 { margin: 0 0 4px; font-size: 1.6em; } h2 { margin: 28px 0 8px; border-bottom: 1px solid var(--line); }
nav a { margin-right: 12px; } a { color: #3a6fd8; }
.muted { color: var(--muted); }
details.op { border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; }
details.op > summary { cursor: pointer; padding: 8px; display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
details.op > div { padding: 0 12px 12px; }
.method { font: bold 12px monospace; padding: 2px 6px; border-radius: 4px; color: #fff; min-width: 58px; text-align: center; }
.GET { background: #2f7d4f; } .POST { background: #2f62b3; } .PATCH { background: #9a6a12; } .DELETE { background: #b2383a; }
code, pre { font-family: ui-monospace, monospace; font-size: 13px; }
.path { font-weight: 600; word-break: break-all; }
pre { background: var(--code); padding: 8px; overflow-x: auto; border-radius: 4px; margin: 4px 0; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { text-align: left; border-bottom: 1px solid var(--line); padding: 4px 6px; vertical-align: top; }
td:first-child { white-space: nowrap; }
h4 { margin: 12px 0 4px; }
#error { color: #b2383a; }
`;

/** Runs in the browser: fetch the document, render it with DOM calls only. */
const SCRIPT = `
"use strict";
const DOC_URL = ${JSON.stringify(OPENAPI_PATH)};
const root = document.getElementById("root");

function el(tag, className, ...children) {
	const node = document.createElement(tag);
	if (className) node.className = className;
	for (const child of children) {
		if (child === null || child === undefined) continue;
		node.append(typeof child === "string" ? document.createTextNode(child) : child);
	}
	return node;
}

function refName(ref) {
	return String(ref).split("/").pop();
}

function resolve(doc, schema, depth) {
	if (!schema || typeof schema !== "object" || depth > 6) return schema;
	if (Array.isArray(schema)) return schema.map(item => resolve(doc, item, depth));
	if (typeof schema.$ref === "string") {
		const target = doc.components && doc.components.schemas && doc.components.schemas[refName(schema.$ref)];
		return target ? resolve(doc, target, depth + 1) : schema;
	}
	const out = {};
	for (const key of Object.keys(schema)) out[key] = resolve(doc, schema[key], depth);
	return out;
}

function typeOf(schema) {
	if (!schema || typeof schema !== "object") return "any";
	if (schema.$ref) return refName(schema.$ref);
	if (schema.const !== undefined) return JSON.stringify(schema.const);
	if (Array.isArray(schema.enum)) return schema.enum.map(v => JSON.stringify(v)).join(" | ");
	if (Array.isArray(schema.anyOf)) return schema.anyOf.map(typeOf).join(" | ");
	if (Array.isArray(schema.allOf)) return schema.allOf.map(typeOf).join(" & ");
	const type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type || "any";
	return type === "array" ? "array of " + typeOf(schema.items) : type;
}

const LIMITS = [["minLength", "min length"], ["maxLength", "max length"], ["minimum", "min"], ["maximum", "max"],
	["minItems", "min items"], ["maxItems", "max items"], ["pattern", "pattern"], ["default", "default"]];

function rules(schema) {
	const target = schema && schema.type === "array" && schema.items ? Object.assign({}, schema.items, schema) : schema || {};
	const parts = LIMITS.filter(([key]) => target[key] !== undefined).map(([key, label]) => label + " " + String(target[key]));
	if (target.description) parts.unshift(String(target.description));
	return parts.join("; ");
}

function table(headers, rows) {
	const head = el("tr", null, ...headers.map(h => el("th", null, h)));
	return el("table", null, el("thead", null, head), el("tbody", null, ...rows.map(cells => el("tr", null, ...cells.map(c => el("td", null, c))))));
}

function schemaBlock(doc, label, schema) {
	return el("details", null, el("summary", null, label), el("pre", null, JSON.stringify(resolve(doc, schema, 0), null, 2)));
}

function errorCodes(schema) {
	const parts = (schema && schema.allOf) || [];
	for (const part of parts) {
		const codes = part && part.properties && part.properties.error && part.properties.error.properties
			&& part.properties.error.properties.code && part.properties.error.properties.code.enum;
		if (Array.isArray(codes)) return codes.join(", ");
	}
	return "";
}

function renderOperation(doc, method, path, op) {
	const body = el("div");
	const open = Array.isArray(op.security) && op.security.length === 0;
	body.append(el("p", "muted", "operationId ", el("code", null, String(op.operationId)), " · ", open ? "public" : "Authorization: Bearer <accessToken>"));
	const params = op.parameters || [];
	if (params.length > 0) {
		body.append(el("h4", null, "Parameters"));
		body.append(table(["Name", "In", "Type", "Required", "Rules"], params.map(p => [
			el("code", null, String(p.name)), String(p.in), typeOf(p.schema), p.required ? "yes" : "no", rules(Object.assign({ description: p.description }, p.schema))
		])));
	}
	const content = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
	if (content && content.schema) {
		const schema = content.schema;
		const required = schema.required || [];
		body.append(el("h4", null, "Request body (application/json)"));
		body.append(table(["Field", "Type", "Required", "Rules"], Object.entries(schema.properties || {}).map(([name, s]) => [
			el("code", null, name), typeOf(s), required.includes(name) ? "yes" : "no", rules(s)
		])));
		body.append(schemaBlock(doc, "JSON Schema", schema));
	}
	body.append(el("h4", null, "Responses"));
	for (const [status, response] of Object.entries(op.responses || {})) {
		const json = response.content && response.content["application/json"];
		const codes = json ? errorCodes(json.schema) : "";
		const headers = Object.keys(response.headers || {}).join(", ");
		const line = el("span", null, el("strong", null, status), " ", codes ? el("code", null, codes) : String(response.description || ""),
			headers ? el("span", "muted", " · header " + headers) : null);
		body.append(json ? schemaBlock(doc, line, json.schema) : el("div", null, line));
	}
	const summary = el("summary", null, el("span", "method " + method.toUpperCase(), method.toUpperCase()), el("span", "path", path),
		el("span", "muted", String(op.summary || "")));
	return el("details", "op", summary, body);
}

function render(doc) {
	const info = doc.info || {};
	root.replaceChildren();
	root.append(el("h1", null, String(info.title || "API"), " ", el("span", "muted", String(info.version || ""))));
	root.append(el("p", null, String(info.description || "")));
	const raw = el("a", null, DOC_URL);
	raw.setAttribute("href", DOC_URL);
	root.append(el("p", "muted", "Document: ", raw));
	const groups = new Map((doc.tags || []).map(tag => [tag.name, { tag, ops: [] }]));
	for (const [path, item] of Object.entries(doc.paths || {})) {
		for (const [method, op] of Object.entries(item)) {
			for (const name of op.tags || ["other"]) {
				if (!groups.has(name)) groups.set(name, { tag: { name }, ops: [] });
				groups.get(name).ops.push([method, path, op]);
			}
		}
	}
	const nav = el("nav");
	root.append(nav);
	for (const [name, group] of groups) {
		if (group.ops.length === 0) continue;
		const link = el("a", null, name);
		link.setAttribute("href", "#tag-" + encodeURIComponent(name));
		nav.append(link);
		const heading = el("h2", null, name);
		heading.id = "tag-" + encodeURIComponent(name);
		root.append(heading);
		if (group.tag.description) root.append(el("p", "muted", String(group.tag.description)));
		for (const [method, path, op] of group.ops) root.append(renderOperation(doc, method, path, op));
	}
	const schemas = (doc.components && doc.components.schemas) || {};
	root.append(el("h2", null, "Schemas"));
	for (const [name, schema] of Object.entries(schemas)) root.append(schemaBlock(doc, name, schema));
}

fetch(DOC_URL, { headers: { accept: "application/json" } })
	.then(res => { if (!res.ok) throw new Error("HTTP " + res.status); return res.json(); })
	.then(render)
	.catch(err => { root.replaceChildren(el("p", null, el("span", null, "Could not load " + DOC_URL + ": " + String(err && err.message))) ); root.firstChild.id = "error"; });
`;

export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GoChat REST API</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<main id="root"><p>Loading the API document…</p></main>
<script>${SCRIPT}</script>
</body>
</html>
`;

/** The page allows itself nothing beyond this server and its own inline code. */
export const DOCS_PAGE_CSP =
	"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:";
