<?php
// A Location redirect (PHP adds "Status: 302").
header("Location: http://example.com/elsewhere");
