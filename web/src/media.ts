// The page's media manager: the microphone straight from navigator.mediaDevices.
//
// The SmallWebRTC transport's default media manager (DailyMediaManager) drives
// Daily's call object, which downloads its call-object bundle from Daily's CDN
// when a call starts: offline, or under a strict CSP, the call never starts. This
// one uses getUserMedia directly and loads nothing from anywhere.
//
// It subclasses the transport's MediaManager base class. That class lives in
// @pipecat-ai/transport-lib, which is bundled inside the transport and not
// published, so it is reached as the parent class of the exported WavMediaManager
// and described here by the part of its interface the transport calls.

import { DeviceError, type DeviceErrorType, type PipecatClientOptions, type RTVIEventCallbacks, type Tracks } from "@pipecat-ai/client-js";
import { WavMediaManager } from "@pipecat-ai/small-webrtc-transport";

/** The fields and methods of transport-lib's MediaManager base class. */
interface MediaManagerBase {
  _options?: PipecatClientOptions;
  _callbacks: RTVIEventCallbacks;
  _micEnabled: boolean;
  _camEnabled: boolean;
  _supportsScreenShare: boolean;
  setUserAudioCallback(cb: (data: ArrayBuffer) => void): void;
  setClientOptions(options: PipecatClientOptions, override?: boolean): void;
  readonly supportsScreenShare: boolean;
}

const MediaManager = Object.getPrototypeOf(WavMediaManager) as new () => MediaManagerBase;

/** Audio constraints for speech: the browser's echo canceller matters most here. */
export const SPEECH_CONSTRAINTS: MediaTrackConstraints = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
};

const LEVEL_INTERVAL_MS = 50;

/** Map a getUserMedia failure to the client's DeviceError vocabulary. */
export function deviceErrorType(error: unknown): DeviceErrorType {
  const name = error instanceof Error || error instanceof DOMException ? error.name : "";
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
    case "PermissionDeniedError":
      return "permissions";
    case "NotFoundError":
    case "DevicesNotFoundError":
      return "not-found";
    case "NotReadableError":
    case "TrackStartError":
    case "AbortError":
      return "in-use";
    case "OverconstrainedError":
    case "ConstraintNotSatisfiedError":
      return "constraints";
    case "TypeError":
      return "undefined-mediadevices";
    default:
      return "unknown";
  }
}

const LOCAL: { id: string; name: string; local: boolean } = { id: "local", name: "", local: true };

export class LocalMediaManager extends MediaManager {
  private stream: MediaStream | null = null;
  private videoTrack: MediaStreamTrack | null = null;
  private micId = "";
  private selected: MediaDeviceInfo | Record<string, never> = {};
  private audioContext: AudioContext | null = null;
  private levelTimer: ReturnType<typeof setInterval> | null = null;
  private onDeviceChange = () => void this.reportDevices();

  constructor(
    /** Called when the microphone track changes mid-call, to swap it on the sender. */
    private readonly replaceTrack?: (track: MediaStreamTrack) => Promise<void>,
  ) {
    super();
    this._supportsScreenShare = false;
  }

  /** Called by initDevices(): opens the microphone, so permission problems surface here. */
  async initialize(): Promise<void> {
    await this.openMic();
    navigator.mediaDevices.addEventListener?.("devicechange", this.onDeviceChange);
    await this.reportDevices();
  }

  /** Called when the transport connects (again, after a hang-up: reopen the mic). */
  async connect(): Promise<void> {
    if (!this.liveTrack()) await this.openMic();
  }

  /** Called when the transport stops: release the microphone. */
  async disconnect(): Promise<void> {
    this.stopLevels();
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = null;
    navigator.mediaDevices.removeEventListener?.("devicechange", this.onDeviceChange);
  }

  // Bot audio arrives as a WebRTC track, not as buffers: nothing to do here.
  async userStartedSpeaking(): Promise<void> {}
  bufferBotAudio(): void {}

  async getAllMics(): Promise<MediaDeviceInfo[]> {
    return (await this.devices()).filter((d) => d.kind === "audioinput");
  }
  async getAllCams(): Promise<MediaDeviceInfo[]> {
    return [];
  }
  async getAllSpeakers(): Promise<MediaDeviceInfo[]> {
    return (await this.devices()).filter((d) => d.kind === "audiooutput");
  }

  async updateMic(micId: string): Promise<void> {
    const old = this.stream;
    this.micId = micId;
    await this.openMic();
    const track = this.liveTrack();
    if (track && this.replaceTrack) await this.replaceTrack(track);
    old?.getTracks().forEach((t) => t.stop());
  }
  updateCam(): void {}
  updateSpeaker(): void {}

  get selectedMic(): MediaDeviceInfo | Record<string, never> {
    return this.selected;
  }
  get selectedCam(): Record<string, never> {
    return {};
  }
  get selectedSpeaker(): Record<string, never> {
    return {};
  }

  enableMic(enable: boolean): void {
    this._micEnabled = enable;
    this.stream?.getAudioTracks().forEach((t) => (t.enabled = enable));
  }
  enableCam(): void {}
  enableScreenShare(): void {}
  get isCamEnabled(): boolean {
    return false;
  }
  get isMicEnabled(): boolean {
    return this._micEnabled;
  }
  get isSharingScreen(): boolean {
    return false;
  }

  /** The caller's camera or screen track (web/src/video.ts), so an ICE restart sends it again. */
  setVideoTrack(track: MediaStreamTrack | null): void {
    this.videoTrack = track;
  }

  tracks(): Tracks {
    const audio = this.liveTrack();
    const video = this.videoTrack?.readyState === "live" ? this.videoTrack : undefined;
    return { local: { ...(audio ? { audio } : {}), ...(video ? { video } : {}) } };
  }

  private liveTrack(): MediaStreamTrack | undefined {
    const track = this.stream?.getAudioTracks()[0];
    return track && track.readyState === "live" ? track : undefined;
  }

  private async devices(): Promise<MediaDeviceInfo[]> {
    return navigator.mediaDevices?.enumerateDevices ? navigator.mediaDevices.enumerateDevices() : [];
  }

  private async reportDevices(): Promise<void> {
    try {
      this._callbacks.onAvailableMicsUpdated?.(await this.getAllMics());
    } catch {
      // enumerateDevices can fail in odd contexts; the call works without the list.
    }
  }

  private async openMic(): Promise<void> {
    if (!navigator.mediaDevices?.getUserMedia) {
      const error = new DeviceError(["mic"], "undefined-mediadevices", "This browser cannot capture audio here (is the page on HTTPS?)");
      this._callbacks.onDeviceError?.(error);
      throw error;
    }
    let stream: MediaStream;
    try {
      const audio = this.micId ? { ...SPEECH_CONSTRAINTS, deviceId: { exact: this.micId } } : SPEECH_CONSTRAINTS;
      stream = await navigator.mediaDevices.getUserMedia({ audio, video: false });
    } catch (e) {
      const error = new DeviceError(["mic"], deviceErrorType(e), e instanceof Error ? e.message : String(e), {
        sourceError: e instanceof Error ? e : new Error(String(e)),
      });
      this._callbacks.onDeviceError?.(error);
      throw error;
    }
    this.stream = stream;
    const track = stream.getAudioTracks()[0];
    track.enabled = this._micEnabled;
    const settings = track.getSettings();
    const info = (await this.getAllMics()).find((d) => d.deviceId === settings.deviceId);
    this.selected = info ?? ({ deviceId: settings.deviceId ?? "default", groupId: "", kind: "audioinput", label: track.label } as MediaDeviceInfo);
    this._callbacks.onMicUpdated?.(this.selected as MediaDeviceInfo);
    this._callbacks.onTrackStarted?.(track, LOCAL);
    this.startLevels(stream);
  }

  /** Local level (0..1) for the meter, through the client's onLocalAudioLevel event. */
  private startLevels(stream: MediaStream): void {
    this.stopLevels();
    try {
      this.audioContext ??= new AudioContext();
      void this.audioContext.resume();
      const analyser = this.audioContext.createAnalyser();
      analyser.fftSize = 1024;
      this.audioContext.createMediaStreamSource(stream).connect(analyser);
      const samples = new Float32Array(analyser.fftSize);
      this.levelTimer = setInterval(() => {
        analyser.getFloatTimeDomainData(samples);
        const level = this._micEnabled ? rms(samples) : 0;
        this._callbacks.onLocalAudioLevel?.(level);
      }, LEVEL_INTERVAL_MS);
    } catch {
      // No WebAudio: the call works, the meter stays still.
    }
  }

  private stopLevels(): void {
    if (this.levelTimer) clearInterval(this.levelTimer);
    this.levelTimer = null;
  }
}

/** Root-mean-square of samples in -1..1, scaled so speech fills the meter (0..1). */
export function rms(samples: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  const value = Math.sqrt(sum / Math.max(1, samples.length));
  return Math.min(1, value * 4);
}
