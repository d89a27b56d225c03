<?php
// Answers after ?s= seconds (fastcgi_read_timeout tests).
sleep((int)($_GET["s"] ?? 2));
echo "slept\n";
