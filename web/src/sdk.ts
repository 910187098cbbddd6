/** The SDK as the web chat uses it: bundled from source by esbuild, so the page and the SDK never drift. */
export * from "../../client/src";
