/**
 * The command area the main thread and the worker threads share: where each word of a command lives.
 *
 * The main thread writes a command (task, threads, buffer ids and sizes, arguments), bumps `SEQ` and
 * notifies; each worker first takes the messages queued for it (blocks it has not seen yet, blocks to
 * forget), takes units of the task from `CLAIM` until none is left, then bumps `DONE` and notifies. Only
 * one command is in flight at a time.
 *
 * @module
 */
import type { MessagePort } from "node:worker_threads";

/** Int32 word indices of the control area. */
export const SEQ = 0;
/** Workers that finished the current command. */
export const DONE = 1;
/** Index of the task in `TASK_NAMES`. */
export const TASK = 2;
/** How many threads take part: the main thread and workers 1 … THREADS−1. */
export const THREADS = 3;
/** How many buffers the command names. */
export const BUFFERS = 4;
/** 1 once a worker failed on the current command; its message is in the error area. */
export const FAILED = 5;
/** 1 tells the workers to exit. */
export const STOP = 6;
/** Workers that started and wait for commands. */
export const READY = 7;
/** Bytes of the error message. */
export const ERROR_LENGTH = 8;
/** The next unit of the task to hand out. */
export const CLAIM = 9;
/** Buffer ids of the command. */
export const IDS = 16;
/** At most this many buffers per command. */
export const MAX_BUFFERS = 16;
/** Sizes (float32 elements) of the command's buffers. */
export const SIZES = IDS + MAX_BUFFERS;
/** Per worker (index 1…MAX_WORKERS): how many port messages to take before running the command. */
export const MESSAGES = SIZES + MAX_BUFFERS;
/** At most this many workers. */
export const MAX_WORKERS = 255;
/** Int32 words of the control area. */
export const CONTROL_WORDS = MESSAGES + MAX_WORKERS + 1;
/** At most this many float64 arguments per command (they live in their own area). */
export const MAX_ARGS = 64;
/** Bytes of the area where a failing worker leaves its message. */
export const ERROR_BYTES = 2048;

/** What a worker is started with. */
export interface WorkerData {
  readonly control: SharedArrayBuffer;
  readonly args: SharedArrayBuffer;
  readonly error: SharedArrayBuffer;
  readonly port: MessagePort;
  /** 1-based: the part of each command this worker computes. */
  readonly index: number;
}

/** A message on a worker's port: a block to know, or blocks to forget. */
export type BlockMessage = { readonly id: number; readonly memory: SharedArrayBuffer } | { readonly drop: number[] };
