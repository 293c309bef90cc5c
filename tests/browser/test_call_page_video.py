"""The caller shows the bot their camera or screen, in a real headless Chromium.

Chromium's fake camera plays a .y4m made here (blue, with a small white square that
moves, so every second's frame differs from the last and none is skipped as unchanged);
the bot samples it, scales and encodes it, and the Live emulator names the colour of
the last frame it received when the caller asks. The page must show the buttons only
where the room allows video, nothing until the caller presses one, a clear sign while
the bot can see, a preview the caller can close, and stop sending when told to.
"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import pytest

from bot.rooms import Room
from gemini_emulator import LiveSession, running_emulator
from gemini_emulator.video import colour_name
from testkit.bot import running_bot
from tests.browser.conftest import chromium, screenshot
from tests.browser.test_call_page import wait_for

pytestmark = pytest.mark.timeout(150)

BLUE = (30, 30, 220)
WIDTH, HEIGHT, FRAMES = 640, 480, 24
BOTH = {"env": {"LIVE_VIDEO": "both"}}


def ycbcr(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """BT.601 studio range, what a decoder turning I420 back into RGB assumes."""
    r, g, b = (c / 255 for c in rgb)
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    cb = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    cr = 128 + 112.0 * r - 93.786 * g - 18.214 * b
    return round(y), round(cb), round(cr)


def camera_y4m(path: Path, rgb: tuple[int, int, int]) -> Path:
    """A YUV4MPEG2 clip of `rgb` with an 80 px white square moving along a diagonal."""
    y, cb, cr = ycbcr(rgb)
    white_y = ycbcr((255, 255, 255))[0]
    chroma = bytes([cb]) * (WIDTH // 2 * HEIGHT // 2) + bytes([cr]) * (WIDTH // 2 * HEIGHT // 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F30:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(FRAMES):
            luma = bytearray([y]) * (WIDTH * HEIGHT)
            x0, y0 = 20 + i * 22, 20 + i * 15
            for row in range(y0, y0 + 80):
                luma[row * WIDTH + x0 : row * WIDTH + x0 + 80] = bytes([white_y]) * 80
            out.write(b"FRAME\n" + bytes(luma) + chroma)
    return path


def silence_wav(path: Path) -> Path:
    """The fake microphone's input: silence (its default is a beep every second)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(b"\0\0" * 48000)
    return path


async def name_the_colour(s: LiveSession) -> None:
    """Each typed question is answered with the colour of the last frame the session got."""
    while True:
        if (await s.next_utterance(timeout=120)).kind == "audio":
            continue
        frame = s.video_frames[-1] if s.video_frames else None
        seen = colour_name(frame.mean_rgb) if frame and frame.mean_rgb else "nothing"
        await s.say(f"I see {seen}.", seconds=1.0)


async def seen(emu, session, wanted, timeout: float = 30.0) -> None:
    """Wait for a frame `wanted` accepts; on a timeout say which frames did arrive."""
    try:
        await emu.wait_for(lambda: any(wanted(f) for f in session.video_frames), timeout=timeout)
    except TimeoutError:
        got = [(f.width, f.height, f.mean_rgb) for f in session.video_frames]
        raise AssertionError(f"no such frame; the session got {got}") from None


async def visible(page, selector: str) -> bool:
    return await page.locator(selector).is_visible()


async def test_the_camera_reaches_the_bot_once_a_second_and_stops_when_turned_off(tmp_path):
    camera = camera_y4m(tmp_path / "blue.y4m", BLUE)
    args = [f"--use-file-for-fake-video-capture={camera}"]
    async with (
        running_emulator(tmp_path, script=name_the_colour) as emu,
        running_bot(emu, tmp_path, **BOTH) as bot,
        chromium(wav=silence_wav(tmp_path / "quiet.wav"), extra_args=args) as browser,
    ):
        page = await browser.new_page()
        response = await page.goto(bot.link("lobby"))
        assert response is not None
        policy = response.headers["permissions-policy"]
        assert "camera=(self)" in policy and "display-capture=(self)" in policy, policy
        assert "microphone=(self)" in policy
        await page.get_by_role("button", name="Join call").click()
        await page.wait_for_selector("#conn[data-state=connected]", timeout=40_000)

        # Off by default: the buttons are there, nothing is sent, no sign of being seen.
        camera_button = page.get_by_role("button", name="Camera", exact=True)
        await camera_button.wait_for(timeout=20_000)
        assert await page.get_by_role("button", name="Share screen").is_visible()
        session = emu.sessions[0]
        await asyncio.sleep(1.5)
        assert session.video_frames == []
        assert not await visible(page, "#seeing") and not await visible(page, "#preview")

        assert (await page.evaluate("window.livebot.video()"))["allowed"] == ["camera", "screen"]
        await page.evaluate(
            "window.__pc = window.livebot.peerConnection();"
            "window.__mic = window.__pc.getTransceivers()[0].sender.track"
        )
        await camera_button.click()
        await page.get_by_role("button", name="Stop camera").wait_for()
        assert await page.locator("#seeing").inner_text() == "The bot can see your camera"
        assert await visible(page, "#preview video")
        await emu.wait_for(lambda: len(session.video_frames) >= 4, timeout=30)
        audio_before = session.connections[-1].audio_bytes

        # The preview closes; the bot still sees (the sign stays, frames go on).
        await page.get_by_role("button", name="Close preview").click()
        assert not await visible(page, "#preview") and await visible(page, "#seeing")
        shown = len(session.video_frames)
        await emu.wait_for(lambda: len(session.video_frames) > shown, timeout=15)
        await page.get_by_role("button", name="Show preview").click()
        assert await visible(page, "#preview")

        await page.get_by_label("Type a message to the bot").fill("what do you see?")
        await page.keyboard.press("Enter")
        await page.locator("#transcript li.bot", has_text="I see blue").wait_for(timeout=30_000)
        await screenshot(page, "call-camera")

        frames = list(session.video_frames)
        assert session.connections[-1].audio_bytes > audio_before  # audio went on beside it
        await page.get_by_role("button", name="Stop camera").click()
        await page.get_by_role("button", name="Camera", exact=True).wait_for()
        assert not await visible(page, "#seeing") and not await visible(page, "#preview")
        assert (await page.evaluate("window.livebot.video()"))["sending"] is None
        await asyncio.sleep(1.5)  # a frame already on its way may still arrive
        stopped = len(session.video_frames)
        audio_off = session.connections[-1].audio_bytes
        await asyncio.sleep(2.0)
        assert len(session.video_frames) == stopped, "frames after the camera was turned off"
        assert session.connections[-1].audio_bytes > audio_off  # the call goes on
        assert (await page.evaluate("window.livebot.state()"))["mic"] == "live"
        # On and off on the same peer connection, the microphone's sender untouched.
        assert await page.evaluate(
            "window.livebot.peerConnection() === window.__pc &&"
            " window.__pc.getTransceivers()[0].sender.track === window.__mic"
        )

    # What reached the session was the caller's camera: JPEG, its size, its colour.
    for f in frames:
        # The camera's 640x480 (or less, if the browser's encoder lowered it under load).
        assert f.mime_type == "image/jpeg" and f.width and f.height and f.width <= WIDTH
        assert abs(f.width / f.height - WIDTH / HEIGHT) < 0.05, (f.width, f.height)
        assert f.mean_rgb and colour_name(f.mean_rgb) == "blue", f.mean_rgb
        assert all(abs(a - b) <= 30 for a, b in zip(f.mean_rgb, BLUE, strict=True)), f.mean_rgb
    # At most one a second (by the session's own clock of when each arrived; +1 for jitter).
    span = frames[-1].t - frames[0].t
    assert len(frames) - 1 <= span + 1, [round(f.t - frames[0].t, 2) for f in frames]


async def test_the_screen_is_shared_where_the_browser_can(tmp_path):
    """Headless Chromium with its fake devices and fake picker shares a 1280x720 test
    screen; the bot scales it to MEDIUM's 768 px and sends it like the camera."""
    camera = camera_y4m(tmp_path / "blue.y4m", BLUE)
    args = [f"--use-file-for-fake-video-capture={camera}"]
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, **BOTH) as bot,
        chromium(wav=silence_wav(tmp_path / "quiet.wav"), extra_args=args) as browser,
    ):
        page = await browser.new_page()
        await page.goto(bot.link("lobby"))
        await page.get_by_role("button", name="Join call").click()
        await page.wait_for_selector("#conn[data-state=connected]", timeout=40_000)
        await page.get_by_role("button", name="Share screen").click()
        await page.get_by_role("button", name="Stop sharing").wait_for()
        assert await page.locator("#seeing").inner_text() == "The bot can see your screen"
        session = emu.sessions[0]
        await emu.wait_for(lambda: len(session.video_frames) >= 1, timeout=30)
        first = session.video_frames[0]
        # Chromium's 1280x720 test screen, scaled to fit MEDIUM's 768 px (or less, if the
        # browser's encoder lowered the resolution under load): 16:9, never bigger.
        assert first.mime_type == "image/jpeg" and first.width and first.height
        assert first.width <= 768 and abs(first.width / first.height - 16 / 9) < 0.05
        # From screen to camera: the same sender, the screen's capture ends.
        await page.get_by_role("button", name="Camera", exact=True).click()
        await page.get_by_role("button", name="Stop camera").wait_for()
        assert await page.get_by_role("button", name="Share screen").is_visible()
        await seen(emu, session, lambda f: bool(f.mean_rgb) and colour_name(f.mean_rgb) == "blue")
        # The first frames were Chromium's test screen, not the (blue) camera.
        assert first.mean_rgb and colour_name(first.mean_rgb) != "blue"
        await page.get_by_role("button", name="Stop camera").click()
        assert (await page.evaluate("window.livebot.video()"))["source"] is None


async def test_without_a_working_screen_share_the_button_goes_and_the_call_stays(tmp_path):
    """A browser without getDisplayMedia gets no share button; one where it fails (a
    webview, a kiosk) loses the button on the first try, and the call goes on."""
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, **BOTH) as bot,
        chromium(wav=silence_wav(tmp_path / "quiet.wav")) as browser,
    ):
        absent = await browser.new_page()
        await absent.add_init_script("delete MediaDevices.prototype.getDisplayMedia")
        await absent.goto(bot.link("lobby"))
        await absent.get_by_role("button", name="Join call").click()
        await absent.wait_for_selector("#conn[data-state=connected]", timeout=40_000)
        await absent.get_by_role("button", name="Camera", exact=True).wait_for()
        assert not await visible(absent, "#screen")
        await absent.get_by_role("button", name="Hang up").click()

        failing = await browser.new_page()
        await failing.add_init_script(
            "MediaDevices.prototype.getDisplayMedia = () => Promise.reject("
            "new DOMException('Not supported', 'NotSupportedError'))"
        )
        await failing.goto(bot.link("lobby"))
        await failing.get_by_role("button", name="Join call").click()
        await failing.wait_for_selector("#conn[data-state=connected]", timeout=40_000)
        await failing.get_by_role("button", name="Share screen").click()
        await failing.locator("#info", has_text="Screen sharing is not available").wait_for()
        assert not await visible(failing, "#screen") and not await visible(failing, "#seeing")
        assert await visible(failing, "#camera")
        assert (await failing.evaluate("window.livebot.state()"))["inCall"] is True
        await failing.get_by_role("button", name="Hang up").click()
        assert all(s.video_frames == [] for s in emu.sessions)


async def test_a_room_without_video_has_no_camera_buttons_and_no_camera_permission(tmp_path):
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, **BOTH) as bot,
        chromium(wav=silence_wav(tmp_path / "quiet.wav")) as browser,
    ):
        bot.rooms.put(Room(name="quiet", toolsets={"video": {"sources": "off"}}))
        page = await browser.new_page()
        response = await page.goto(bot.link("quiet"))
        assert response is not None
        policy = response.headers["permissions-policy"]
        assert "camera=()" in policy and "display-capture=()" in policy, policy
        assert "microphone=(self)" in policy
        await page.get_by_role("button", name="Join call").click()
        await page.wait_for_selector("#conn[data-state=connected]", timeout=40_000)
        assert (await wait_for(page, "window.livebot.video().told && window.livebot.video()"))[
            "allowed"
        ] == []
        assert not await visible(page, "#video-controls")
        assert not await visible(page, "#camera") and not await visible(page, "#screen")
        assert (
            await page.evaluate(
                "navigator.mediaDevices.getUserMedia({video: true})"
                ".then(() => 'allowed', e => e.name)"
            )
            == "NotAllowedError"
        )


PHONE_SPY = """
window.__asked = [];
const original = MediaDevices.prototype.getUserMedia;
MediaDevices.prototype.getUserMedia = function (constraints) {
  window.__asked.push(constraints.video || null);
  return original.call(this, constraints);
};
"""


async def test_on_a_phone_the_back_camera_can_be_chosen_and_video_survives_a_restart(tmp_path):
    camera = camera_y4m(tmp_path / "blue.y4m", BLUE)
    args = [f"--use-file-for-fake-video-capture={camera}"]
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, env={"LIVE_VIDEO": "camera"}) as bot,
        chromium(wav=silence_wav(tmp_path / "quiet.wav"), extra_args=args) as browser,
    ):
        context = await browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        page = await context.new_page()
        await page.add_init_script(PHONE_SPY)
        await page.goto(bot.link("lobby"))
        await page.get_by_role("button", name="Join call").click()
        await page.wait_for_selector("#conn[data-state=connected]", timeout=40_000)
        await page.get_by_role("button", name="Camera", exact=True).wait_for(timeout=20_000)
        assert not await visible(page, "#screen")  # this room allows the camera only
        await page.get_by_label("Which camera").select_option("environment")
        await page.get_by_role("button", name="Camera", exact=True).click()
        await page.get_by_role("button", name="Stop camera").wait_for()
        video_asks = [a for a in await page.evaluate("window.__asked") if a]
        assert video_asks[-1]["facingMode"] == "environment"
        assert await page.get_attribute("#preview-video", "data-mirror") == "false"
        session = emu.sessions[0]
        await emu.wait_for(lambda: len(session.video_frames) >= 2, timeout=30)
        await screenshot(page, "call-camera-phone")

        # The network drops: the transport's new peer connection sends the camera too.
        await page.evaluate("window.__pc = window.livebot.peerConnection()")
        await page.evaluate("window.livebot.restartConnection()")
        await wait_for(
            page,
            "window.livebot.peerConnection() !== window.__pc"
            " && window.livebot.state().ice === 'connected'",
        )
        before = len(session.video_frames)
        await emu.wait_for(lambda: len(session.video_frames) >= before + 2, timeout=30)
        assert (await page.evaluate("window.livebot.video()"))["sending"] == "live"

        # Back to the front camera while it is on: a new capture, mirrored preview.
        await page.get_by_label("Which camera").select_option("user")
        await wait_for(page, "window.__asked.filter(a => a).at(-1).facingMode === 'user'")
        await wait_for(page, "document.querySelector('#preview-video').dataset.mirror === 'true'")
        assert (await page.evaluate("window.livebot.video()"))["source"] == "camera"
        await context.close()
