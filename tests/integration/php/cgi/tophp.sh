#!/bin/sh
# A local redirect to a PHP page: another FastCGI location answers, later.
printf 'Location: /hi.php\r\n\r\n'
