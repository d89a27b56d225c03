/* metrics.h - `metrics;`: the Prometheus text exposition of every worker (see metrics.c). */
#pragma once

#include "core/conf/conf.h"

extern const struct conf_module metrics_module;
