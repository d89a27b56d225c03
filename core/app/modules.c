/* modules.c - see modules.h. */
#include "core/app/modules.h"

#include "core/app/pidfile.h"
#include "core/app/privilege.h"
#include "core/app/settings.h"
#include "core/handlers/autoindex.h"
#include "core/handlers/fastcgi.h"
#include "core/handlers/health.h"
#include "core/handlers/metrics.h"
#include "core/handlers/cgi.h"
#include "core/handlers/multiviews_conf.h"
#include "core/handlers/proxy.h"
#include "core/handlers/ssi_conf.h"
#include "core/handlers/static.h"
#include "core/handlers/status.h"
#include "core/http/access.h"
#include "core/http/accesslog.h"
#include "core/http/auth_basic.h"
#include "core/http/error_page.h"
#include "core/http/files.h"
#include "core/http/h2_conf.h"
#include "core/http/headers.h"
#include "core/http/hostname.h"
#include "core/http/ident.h"
#include "core/http/limit_conn.h"
#include "core/http/limit_rate.h"
#include "core/http/limit_req.h"
#include "core/http/location.h"
#include "core/http/redirect.h"
#include "core/http/redirect_pool.h"
#include "core/http/rewrite.h"
#include "core/http/route.h"
#include "core/http/settings.h"
#include "core/http/tls_conf.h"
#include "core/http/typing.h"
#include "core/http/upstream_conf.h"
#include "core/http/userdir.h"
#include "core/net/settings.h"
#if SPATE_TEST_HANDLERS
#include "core/handlers/test_echo.h"
#include "core/handlers/test_stream.h"
#endif

const struct conf_module *const spate_modules[] = {
    &process_module,     &pidfile_module, &http_module,   &h2_module,      &net_module,     &accesslog_module,
    &route_module,       &tls_conf_module,    &location_module, &rewrite_module, &redirect_module, &files_module,
    &userdir_module,
    &privilege_module,
    &error_page_module,  &redirect_pool_module, &static_module,   &autoindex_module,
    &multiviews_module,  &headers_module,     &typing_module,   &access_module,
    &auth_basic_module,
    &limit_req_module,   &limit_conn_module,  &limit_rate_module,
    &ident_module,       &hostname_module,
    &fastcgi_module,
    &upstream_module,    &proxy_module,
    &ssi_module,
    &cgi_module,
    &metrics_module,     &status_module,      &stub_status_module, &health_module,
#if SPATE_TEST_HANDLERS
    &test_stream_module, &test_echo_module,
#endif
};

const unsigned spate_nmodules = ARRAY_SIZE(spate_modules);
