/*
 * proxy_vars.h - the proxy's variables (proxy_vars.c): $proxy_host, $proxy_port,
 * $proxy_add_x_forwarded_for, $upstream_addr, $upstream_status, $upstream_response_time.
 */
#pragma once

/* Makes them known (the proxy module's start). 0 or -1. */
int proxy_vars_start(void);
