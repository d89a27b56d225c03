/*
 * flusher_thread.h - the flusher thread's body. Private to log/: flusher.c
 * starts it (log_flusher_start), and nothing else may call it.
 *
 * flusher_thread.c holds the thread's work, described in flusher.h: it drains
 * the rings into the sinks, keeps backlogs for sinks that do not take their
 * lines, writes the lines exiting workers handed over, reports failing sinks
 * in the error log, and sleeps when there is nothing to do.
 */
#pragma once

/*
 * The thread's start routine (for pthread_create): arg is the struct log_flusher that
 * log_flusher_start set up. Runs until f->stop is set and every line is written, or
 * f->giveup_ms passes (then it counts what is left in f's unwritten counters). Returns NULL.
 */
void *log_flusher_main(void *arg);
