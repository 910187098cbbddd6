/**
 * The probe paths every GoChat process serves: on HEALTH_PORT for every role, and on PORT beside
 * the API for a gateway. Deployment files (Dockerfile, compose, k8s) must use these; the deployment
 * test checks that they do.
 */
export const PROBE_PATHS = {
	/** Liveness: the process runs and its event loop answers. */
	health: "/health",
	/** Readiness: its services started, their dependencies answer, and it is not draining. */
	ready: "/ready"
} as const;
