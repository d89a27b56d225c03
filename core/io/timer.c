/* timer.c - see timer.h. */
#include "core/io/timer.h"

void timer_list_init(struct timer_list *l, uint32_t duration_ms, uint8_t kind)
{
    l->head.prev = l->head.next = &l->head;
    l->head.list = l;
    l->duration_ms = duration_ms;
    l->count = 0;
    l->kind = kind;
    l->fired = 0;
    l->owner = 0;
}

void timer_cancel(struct timer_node *n)
{
    if (!n->list) {
        return;
    }
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->list->count--;
    n->list = 0;
    n->prev = n->next = 0;
}

void timer_arm(struct timer_list *l, struct timer_node *n, uint64_t now_ms)
{
    timer_cancel(n);
    n->deadline_ms = now_ms + l->duration_ms;
    n->prev = l->head.prev;
    n->next = &l->head;
    l->head.prev->next = n;
    l->head.prev = n;
    n->list = l;
    l->count++;
}
