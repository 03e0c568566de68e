#!/bin/bash
# Server CPU per message of the SMTP protocol layer alone (bench/engine_sink.ts), smtp-source
# as the client. usage: bench/engine_sink.sh <fastmta|smtp-server> port size sessions msgs [smtp-source flags]
cd "$(dirname "$0")/.."
export DENO_NO_UPDATE_CHECK=1
deno run -A bench/engine_sink.ts "$1" "$2" & pid=$!
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$2) 2>/dev/null && break; sleep 0.1; done
t0=$(awk '{print $14+$15}' /proc/$pid/stat); s0=$(date +%s.%N)
/usr/sbin/smtp-source $6 -s $4 -m $5 -l $3 -f a@x.test -t b@y.test 127.0.0.1:$2
s1=$(date +%s.%N); t1=$(awk '{print $14+$15}' /proc/$pid/stat)
kill $pid; wait $pid 2>/dev/null
echo "$1 size=$3 s=$4 m=$5 $6: $(echo "($t1-$t0)*10/$5" | bc -l | cut -c1-5) ms/msg CPU, $(echo "$5/($s1-$s0)" | bc -l | cut -c1-6) msg/s"
