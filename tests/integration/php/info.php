<?php
// The CGI meta-variables the FastCGI handler passes, one "NAME=value" line each.
foreach (["SCRIPT_FILENAME", "SCRIPT_NAME", "QUERY_STRING", "REQUEST_METHOD", "PATH_INFO",
          "DOCUMENT_ROOT", "DOCUMENT_URI", "REQUEST_URI", "SERVER_PROTOCOL", "SERVER_ADDR",
          "SERVER_PORT", "SERVER_NAME", "SERVER_SOFTWARE", "GATEWAY_INTERFACE", "REMOTE_ADDR",
          "REMOTE_PORT", "REQUEST_SCHEME", "HTTPS", "REDIRECT_STATUS", "CONTENT_TYPE",
          "CONTENT_LENGTH", "HTTP_HOST", "HTTP_X_CUSTOM", "HTTP_PROXY", "HTTP_COOKIE",
          "HTTP_X_FROM_PARAM"] as $k) {
    echo $k, "=", array_key_exists($k, $_SERVER) ? $_SERVER[$k] : "(unset)", "\n";
}
