/**
 * The management plane's config kinds (core/manage/kinds.ts) as REST resources: each kind's
 * service, schema and write roles, under the path the API names it by.
 */
import type { Management, ObjectServices } from "../../core/manage/mod.ts";
import type { CrudResource } from "../_resource.ts";

/** Path segment and OpenAPI name of each kind. */
const SERVED: Record<keyof ObjectServices, { path: string; name: string }> = {
  vmta: { path: "vmtas", name: "Vmta" },
  pool: { path: "pools", name: "Pool" },
  listener: { path: "listeners", name: "Listener" },
  route: { path: "routes", name: "Route" },
  shaping_rule: { path: "shaping-rules", name: "ShapingRule" },
  retention: { path: "retention", name: "Retention" },
  bounce_rule: { path: "bounce-rules", name: "BounceRule" },
  bounce_policy: { path: "bounce-policies", name: "BouncePolicy" },
  tls_certificate: { path: "tls-certificates", name: "TlsCertificate" },
};

/** Every config kind of `management` as a CRUD resource. */
export function managementResources(management: Management): CrudResource[] {
  return (Object.keys(SERVED) as (keyof ObjectServices)[]).map((kind) => {
    const service = management.objects[kind];
    return {
      ...SERVED[kind],
      service: service as unknown as CrudResource["service"],
      body: service.definition.schema,
      writeRoles: service.definition.writeRoles,
    };
  });
}
