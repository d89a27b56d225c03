<?php
// ?n= lines to FastCGI's STDERR: at most a few of them reach the error log.
for ($i = 0; $i < (int)($_GET["n"] ?? 100); $i++) {
    error_log("flood line $i");
}
echo "flooded\n";
