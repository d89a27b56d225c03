/*
 * access_step.h - what a step of the access phase returns (http/access.h runs the steps).
 *
 * Apart from access.h so that the modules whose steps access.c calls (limit_req, limit_conn,
 * auth_basic) include only the contract, not the phase that includes them.
 */
#pragma once

#define ACCESS_NEXT 0
#define ACCESS_GRANTED 2 /* not an HTTP status, not HANDLER_LATER (1) */

/* Bits of req_wait.passed. */
enum access_passed {
    ACCESS_PASSED_LIMIT_REQ = 1u << 0,
    ACCESS_PASSED_LIMIT_CONN = 1u << 1,
};

