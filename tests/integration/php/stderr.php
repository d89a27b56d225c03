<?php
// Writes to FastCGI's STDERR (PHP's error_log() with no log file set).
error_log("message from stderr.php");
echo "ok\n";
