"""The benchmark: the latency and CPU the bot adds to a call, against stock Pipecat.

`uv run python -m bench` (or `./livebot bench`) runs, in one go and against the same
Live emulator and callers, livebot (`bench.serve livebot`: the real server, rooms,
links, Live stage and `bot.media` fixes) and the anchor (`bench/anchor.py`: Pipecat's
realtime Gemini Live example on SmallWebRTC). Each bot runs in its own process, so its
CPU time and RSS are its own; the emulator and the aiortc callers (`bench.instrument`)
run in the bench process. Figures, per call, all calls of a scenario at once:

uplink added latency
    The caller plays a train of 30 ms tone bursts (`bench.markers`), each starting on a
    20 ms frame boundary. Send time: when the caller's track handed the frame carrying
    the burst onset to the Opus encoder. Arrival: when the emulator received the
    `realtimeInput` chunk in which the onset is detected (same detector on both sides).
downlink added latency
    The emulator plays a marker train with `say(audio=...)`, paced in real time, 40 ms
    chunks, onsets on chunk boundaries. Send time: when the emulator sent the chunk with
    the onset. Arrival: when the caller decoded the 20 ms frame with the onset. The
    caller's receiver hands every packet to the decoder as it arrives (no jitter buffer
    wait), so this is the bot's send path plus the network, not the caller's playout.
barge-in
    The emulator streams a tone 1.5x real time (as Gemini does), interrupts it after
    ~0.6 s, and the figure is from the `interrupted` message to the first caller frame
    after which no loud frame came.
tool overhead
    `toolCall` sent -> `toolResponse` received, for a BLOCKING tool that answers at once.
CPU and memory per call
    The bot process's utime+stime over the scenario, minus its idle rate, per call and
    second; RSS during the calls minus idle RSS, per call.
frames delivered
    20 ms frames of caller audio the emulator received / RTP packets that reached the
    bot (sent minus dropped). Above 1 under loss when the bot fills lost packets
    (bot/media/decoder.py conceals them, so Gemini's stream keeps its length).
capacity
    Calls are added step by step (uplink + downlink trains); a step passes when p99 is
    <= 50 ms each way, every marker arrived and >= 99 % of frames were delivered.
packet loss
    Seeded random drops in the caller process (`bench.instrument`): outgoing RTP before
    SRTP (uplink loss) and incoming RTP after SRTP (downlink loss), RTCP untouched.

Results go to `bench/results/` (`results.md`, `results.json`, `latency.png`).
"""
