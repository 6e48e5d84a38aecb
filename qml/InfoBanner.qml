import QtQuick
import Hubris.Native

// Bottom banner over the video: the channel, what is on now with its progress, and what is next.
Rectangle {
    id: banner
    objectName: "infoBanner"
    property var info: ({})
    // The clock at the last refresh: GuideGrid.now() is a call, which a binding never reads again.
    property real refreshedAt: 0
    function refresh() { info = Channels.get(Zapper.current); refreshedAt = GuideGrid.now() }
    function show() { zapped.stop(); refresh(); opacity = 1; hide.restart() }
    function close() { zapped.stop(); opacity = 0 }

    anchors.left: parent.left
    anchors.right: parent.right
    anchors.bottom: parent.bottom
    anchors.margins: Theme.margin
    height: 150
    radius: 10
    color: Theme.panel
    border.color: Theme.highContrast ? Theme.text : "transparent"
    border.width: 2
    opacity: 0
    visible: opacity > 0
    Behavior on opacity { NumberAnimation { duration: 150 } }
    Timer { id: hide; interval: 5000; onTriggered: banner.opacity = 0 }
    Timer { interval: 30000; running: banner.visible; repeat: true; onTriggered: banner.refresh() }
    // A zap's banner comes with the new channel's first picture (or when it fails, or 300 ms
    // without one), not before it: a frame painted for the banner alone holds the picture up by
    // a whole frame (70-140 ms with a software rasteriser, docs/BENCHMARKS.md). Not restarted by
    // the next key: zapping through channels shows where it is at least every 300 ms.
    Timer { id: zapped; interval: 300; onTriggered: banner.show() }
    Connections { target: Zapper; function onCurrentChanged() { if (!zapped.running) zapped.start() } }
    Connections {
        target: Hal.player
        enabled: zapped.running
        function onStateChanged() { if (Hal.player.state !== Player.Opening) banner.show() }
    }

    function clock(t) { return t > 0 ? Qt.formatTime(new Date(t * 1000), "hh:mm") : "" }

    Text {
        id: number
        textFormat: Text.PlainText
        x: 24; y: 18
        text: banner.info.number !== undefined ? banner.info.number : ""
        color: Theme.accent
        font.family: Theme.family; font.pixelSize: Theme.fontHuge; font.bold: true
    }
    Text {
        id: name
        textFormat: Text.PlainText
        anchors.left: number.right; anchors.leftMargin: 20; anchors.top: parent.top; anchors.topMargin: 18
        text: banner.info.name || ""
        color: Theme.text
        font.family: Theme.family; font.pixelSize: Theme.fontLarge; font.bold: true
    }
    Text {
        textFormat: Text.PlainText
        anchors.right: parent.right; anchors.rightMargin: 24; anchors.top: parent.top; anchors.topMargin: 22
        objectName: "bannerClock"
        text: banner.clock(banner.refreshedAt)
        color: Theme.dimText
        font.family: Theme.family; font.pixelSize: Theme.fontNormal
    }
    Text {
        id: now
        textFormat: Text.PlainText
        anchors.left: name.left; anchors.top: name.bottom; anchors.topMargin: 6
        anchors.right: parent.right; anchors.rightMargin: 24
        elide: Text.ElideRight
        text: banner.info.nowTitle ? banner.clock(banner.info.nowStart) + "  " + banner.info.nowTitle
                                   : qsTr("No programme information")
        color: Theme.text
        font.family: Theme.family; font.pixelSize: Theme.fontNormal
    }
    Rectangle {
        id: track
        anchors.left: name.left; anchors.top: now.bottom; anchors.topMargin: 8
        width: 400; height: 8; radius: 4
        color: Theme.cell
        Rectangle {
            width: parent.width * Math.max(0, Math.min(1, banner.info.nowProgress || 0))
            height: parent.height; radius: 4
            color: Theme.accent
        }
    }
    Text {
        textFormat: Text.PlainText
        anchors.left: track.right; anchors.leftMargin: 24; anchors.verticalCenter: track.verticalCenter
        anchors.right: parent.right; anchors.rightMargin: 24
        elide: Text.ElideRight
        text: banner.info.nextTitle ? qsTr("Next %1  %2").arg(banner.clock(banner.info.nextStart)).arg(banner.info.nextTitle) : ""
        color: Theme.dimText
        font.family: Theme.family; font.pixelSize: Theme.fontSmall
    }
}
