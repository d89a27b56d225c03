/* memcpy of 16 KiB (one TLS record) at different source/destination alignments: glibc
 * chooses rep movsb for this size; on this machine (AMD EPYC Zen 3, glibc 2.36) that runs at
 * about 1.3-1.6 GB/s for some misaligned pairs (src+0 dst+8, src+3 dst+22, src+16 dst+40) and
 * 15-40 GB/s for others, among them every pair aligned alike mod 64.
 *   gcc -O2 -o memcpy_align bench/e2e/memcpy_align.c && taskset -c 0 ./memcpy_align
 *   GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=4000000 taskset -c 0 ./memcpy_align */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(void){
  size_t n=16384; char *src=aligned_alloc(4096,1<<20), *dst=aligned_alloc(4096,1<<20);
  memset(src,1,1<<20); memset(dst,2,1<<20);
  int so[]={0,0,3,3,3,16,32,8,8}, dof[]={0,8,0,22,3,40,24,8,0};
  for(int k=0;k<9;k++){
    int it=200000; double t0=now();
    for(int i=0;i<it;i++){ memcpy(dst+dof[k]+(i&7)*65536, src+so[k]+(i&7)*65536, n); __asm__ volatile(""::"r"(dst):"memory"); }
    double t=now()-t0; printf("src+%d dst+%d: %.2f GB/s\n", so[k], dof[k], (double)n*it/t/1e9);
  }
}
