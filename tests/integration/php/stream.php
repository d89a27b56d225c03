<?php
// ?n= pieces of 64 KiB, flushed one by one, ?ms= apart: a long streamed answer.
$n = (int)($_GET["n"] ?? 16);
$ms = (int)($_GET["ms"] ?? 0);
$piece = str_repeat("0123456789abcdef", 4096);
for ($i = 0; $i < $n; $i++) {
    echo $piece;
    flush();
    if ($ms) {
        usleep($ms * 1000);
    }
}
