<?php
// A request body of any size: its length and md5, read from php://input.
$d = file_get_contents("php://input");
echo strlen($d), " ", md5($d), "\n";
