<?php
// A POSTed form: its fields back, as PHP parsed them.
echo "method=", $_SERVER["REQUEST_METHOD"], "\n";
foreach ($_POST as $k => $v) {
    echo "post:", $k, "=", $v, "\n";
}
