<?php
// A body of the length the script announced.
header("Content-Length: 12");
echo "hello world\n";
