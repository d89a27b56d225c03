<?php
// A status and fields of the script's choosing.
http_response_code((int)($_GET["code"] ?? 200));
header("X-From-Php: yes");
header("Set-Cookie: a=1");
header("Set-Cookie: b=2", false);
echo "code ", http_response_code(), "\n";
