/** The delivery log page. */
import type { VNode } from "preact";
import type { AttemptRow } from "../core/store/mod.ts";
import { Layout } from "./_render.tsx";
import { AttemptsTable } from "./index.tsx";
import type { PageContext } from "./_context.ts";

/** Newest attempts first. */
export function AttemptsPage(props: PageContext & { attempts: AttemptRow[] }): VNode {
  return (
    <Layout title="Delivery log" user={props.user} csrfToken={props.csrfToken}>
      <h1 class="text-2xl font-bold mb-4">Delivery log</h1>
      <AttemptsTable attempts={props.attempts} />
    </Layout>
  );
}
