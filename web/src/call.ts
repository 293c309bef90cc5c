// The call: Pipecat's JS client over its SmallWebRTC transport, with the page's
// own media manager and the server's call ticket on every signalling request.

import { PipecatClient, type RTVIEventCallbacks } from "@pipecat-ai/client-js";
import { SmallWebRTCTransport } from "@pipecat-ai/small-webrtc-transport";
import { LocalMediaManager } from "./media";

export const OFFER_ENDPOINT = "/api/offer";

export interface IceServer {
  urls: string[] | string;
  username?: string;
  credential?: string;
}

/**
 * The stock transport, with one change for network recovery. On an ICE failure
 * (or a disconnect lasting 5 s) it builds a new peer connection, offers it with
 * `restart_pc` to the same endpoint, and then closes the old one, stopping every
 * track the old one was sending. The new one sends the same microphone track,
 * so closing the old connection must leave the track alone; the media manager
 * stops it when the call ends.
 */
export class LivebotTransport extends SmallWebRTCTransport {
  /** "relay" sends media only through the TURN relay (the server's ICE_TRANSPORT_POLICY). */
  iceTransportPolicy: RTCIceTransportPolicy = "all";

  createPeerConnection(): RTCPeerConnection {
    const pc = super.createPeerConnection();
    if (this.iceTransportPolicy === "relay") {
      pc.setConfiguration({ ...pc.getConfiguration(), iceTransportPolicy: "relay" });
    }
    return pc;
  }

  closePeerConnection(pc: RTCPeerConnection): void {
    pc.getTransceivers().forEach((t) => t.stop?.());
    pc.close();
  }

  /** The current peer connection (replaced when the transport renegotiates). */
  get peerConnection(): RTCPeerConnection | null {
    return (this as unknown as { pc: RTCPeerConnection | null }).pc;
  }
}

export interface Call {
  client: PipecatClient;
  transport: LivebotTransport;
  media: LocalMediaManager;
}

export function createCall(callbacks: RTVIEventCallbacks): Call {
  let transport: LivebotTransport | null = null;
  const media = new LocalMediaManager(async (track) => {
    const sender = transport?.peerConnection?.getTransceivers()[0]?.sender;
    if (sender) await sender.replaceTrack(track);
  });
  transport = new LivebotTransport({ mediaManager: media, waitForICEGathering: false });
  const client = new PipecatClient({ transport, enableMic: true, enableCam: false, callbacks });
  return { client, transport, media };
}

/** Connection parameters for one call: the ticket goes in a header on the POST and the PATCHes. */
export function connectParams(ticket: string, iceServers: IceServer[]) {
  return {
    webrtcRequestParams: {
      endpoint: new URL(OFFER_ENDPOINT, location.origin).toString(),
      headers: new Headers({ Authorization: `Bearer ${ticket}` }),
    },
    iceConfig: { iceServers: iceServers as RTCIceServer[] },
  };
}
