/**
 * SMTP acceptance worker: a Web Worker running one SMTP stage (workers/smtp_stage.ts: what it
 * owns, talks to and reads).
 */
/// <reference lib="deno.worker" />
import { selfPort, workerIsolate } from "./_worker_entry.ts";
import { smtpStage } from "./smtp_stage.ts";

smtpStage(selfPort(), workerIsolate());
