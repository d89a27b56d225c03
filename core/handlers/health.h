/* health.h - `health;`: 200 while serving, 503 while draining (see health.c). */
#pragma once

#include "core/conf/conf.h"

extern const struct conf_module health_module;
