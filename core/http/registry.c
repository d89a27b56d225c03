/* registry.c - the process's published state (registry.h). */
#include "core/http/registry.h"

struct registry process_registry;

void registry_publish(struct worker *workers, unsigned n)
{
    process_registry.workers = workers;
    process_registry.nworkers = n;
    process_registry.started = time(NULL);
    atomic_store(&process_registry.gen, 1);
}
