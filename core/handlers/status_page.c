/*
 * status_page.c - `status;` as HTML: one self-contained page (inline style and script, no
 * external asset, so it works on an edge node with no route to a CDN). The figures come
 * embedded as JSON and are drawn by the script, which fetches ?format=json again every two
 * seconds: a per-worker table with each worker's share of the requests (reuseport skew and
 * hot cores show at a glance), the latency percentiles, the locations with their own.
 * Without script the page shows the embedded JSON's text form in a <noscript> note.
 */
#include "core/handlers/status_page.h"

#include "core/handlers/report.h"

static const char head[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
    "<title>spate status</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1b1f24;background:#fafbfc}\n"
    "h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}\n"
    ".meta{color:#57606a}.drain{color:#fff;background:#cf222e;padding:0 .4em;border-radius:3px}\n"
    "table{border-collapse:collapse;background:#fff;box-shadow:0 0 0 1px #d0d7de}\n"
    "th,td{padding:.25em .7em;text-align:right;border-bottom:1px solid #eaeef2}\n"
    "th{background:#f6f8fa;font-weight:600}td:first-child,th:first-child{text-align:left}\n"
    "tr.total td{font-weight:600;background:#f6f8fa}\n"
    ".bar{display:inline-block;height:.7em;background:#2f81f7;vertical-align:middle;"
    "margin-left:.4em}\n"
    "</style></head><body>\n<h1>spate status</h1>\n<div class=\"meta\" id=\"meta\"></div>\n"
    "<h2>Workers</h2><table id=\"workers\"></table>\n"
    "<h2>Latency (&micro;s)</h2><div id=\"lat\"></div>\n"
    "<h2>Locations</h2><div id=\"locs\"></div>\n"
    "<noscript><p>This page draws its tables with a script; the same figures are at "
    "<a href=\"?format=json\">?format=json</a> and <a href=\"?format=text\">?format=text</a>.</p>"
    "</noscript>\n<script id=\"data\" type=\"application/json\">";

static const char tail[] =
    "</script>\n<script>\n"
    "'use strict';\n"
    "const P=['50','90','99','99.9','99.99'];\n"
    "function esc(s){return String(s).replace(/[&<>\"']/g,c=>'&#'+c.charCodeAt(0)+';');}\n"
    "function n(v){return Number(v).toLocaleString('en-US');}\n"
    "function row(cells,cls){return '<tr'+(cls?' class=\"'+cls+'\"':'')+'>'+cells.map(c=>'<td>'+c+'</td>').join('')+'</tr>';}\n"
    "function head(cells){return '<tr>'+cells.map(c=>'<th>'+c+'</th>').join('')+'</tr>';}\n"
    "function latRows(name,l){return row([esc(name),n(l.count)].concat(P.map(p=>n(l['p'+p]))).concat([n(l.max)]));}\n"
    "function draw(d){\n"
    " document.getElementById('meta').innerHTML='version '+esc(d.version)+' &middot; up '+n(d.uptime_s)+' s &middot; '+d.workers_n+' workers &middot; configuration '+d.generation+' ('+d.reloads+' reloads'+(d.reload_failures?', '+d.reload_failures+' failed':'')+')'+(d.draining?' <span class=\"drain\">draining</span>':'')+' &middot; updated '+new Date().toLocaleTimeString();\n"
    " const tot=d.total.requests||1;\n"
    " let h=head(['worker','cpu','requests','share','active','accepted','refused','2xx','3xx','4xx','5xx','cache hits','log dropped']);\n"
    " const w1=(w,name,cpu,cls)=>row([name,cpu,n(w.requests),(100*w.requests/tot).toFixed(1)+'%<span class=\"bar\" style=\"width:'+Math.round(80*w.requests/tot)+'px\"></span>',n(w.connections.active),n(w.connections.accepted),n(w.connections.refused+w.connections.denied),n(w.responses['2xx']),n(w.responses['3xx']),n(w.responses['4xx']),n(w.responses['5xx']),n(w.file_cache.hits),n(w.log.dropped)],cls);\n"
    " d.workers.forEach(w=>{h+=w1(w,w.worker,w.cpu,'');});\n"
    " h+=w1(d.total,'all','','total');\n"
    " document.getElementById('workers').innerHTML=h;\n"
    " let l='';\n"
    " if(!d.latency_histograms){l='<p class=\"meta\">off: <code>latency_histograms on;</code> records them.</p>';}\n"
    " else{l='<table>'+head(['','count'].concat(P.map(p=>'p'+p)).concat(['max']));\n"
    "  d.workers.forEach(w=>{l+=latRows('worker '+w.worker+' service',w.latency_us.service);});\n"
    "  l+=latRows('all service',d.total.latency_us.service);\n"
    "  d.workers.forEach(w=>{l+=latRows('worker '+w.worker+' queue',w.latency_us.queue);});\n"
    "  l+=latRows('all queue',d.total.latency_us.queue)+'</table>';}\n"
    " document.getElementById('lat').innerHTML=l;\n"
    " let o='';\n"
    " if(!d.locations.length){o='<p class=\"meta\">none: <code>location_latency on;</code> in a location gives it its own.</p>';}\n"
    " else{o='<table>'+head(['server','location','count'].concat(P.map(p=>'p'+p)).concat(['max']));\n"
    "  d.locations.forEach(x=>{const s=x.latency_us.service;o+=row([esc(x.server||'(default)'),esc(x.location||'(server)'),n(s.count)].concat(P.map(p=>n(s['p'+p]))).concat([n(s.max)]));});\n"
    "  o+='</table>';}\n"
    " document.getElementById('locs').innerHTML=o;\n"
    "}\n"
    "draw(JSON.parse(document.getElementById('data').textContent));\n"
    "setInterval(()=>{fetch(location.pathname+'?format=json',{cache:'no-store'}).then(r=>r.json()).then(draw).catch(()=>{});},2000);\n"
    "</script></body></html>\n";

void status_page(struct rbuf *b, const char *json, size_t len)
{
    rb_put(b, head, sizeof(head) - 1);
    /* inside <script>: no "<" at all, so no "</script>" a name could smuggle in */
    for (size_t i = 0; i < len; i++) {
        if (json[i] == '<') {
            rb_puts(b, "\\u003c");
        } else {
            rb_put(b, &json[i], 1);
        }
    }
    rb_put(b, tail, sizeof(tail) - 1);
}
