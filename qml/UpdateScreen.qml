import QtQuick
import Hubris.Native

// A software update the control server started: a panel over whatever is on screen while it
// downloads, verifies and installs (the viewer keeps watching and using the box), then the whole
// screen says it restarts. A failure stays a few seconds and goes.
Item {
    id: root
    objectName: "updateScreen"
    anchors.fill: parent
    visible: Updates.active
    readonly property bool restarting: Updates.stage === UpdateProgress.Restarting
    readonly property bool failed: Updates.stage === UpdateProgress.Failed

    Rectangle {
        anchors.fill: parent
        visible: root.restarting
        color: Theme.background
    }
    Rectangle {
        id: panel
        width: root.restarting ? 640 : 520
        height: column.implicitHeight + 48
        radius: 12
        color: Theme.panelSolid
        border.color: root.failed ? Theme.error : Theme.accent; border.width: 2
        x: root.restarting ? (parent.width - width) / 2 : parent.width - width - Theme.margin
        y: root.restarting ? (parent.height - height) / 2 : Theme.margin + 80 // below the volume OSD
        Column {
            id: column
            x: 24; y: 24; width: parent.width - 48
            spacing: 12
            Text {
                textFormat: Text.PlainText
                text: qsTr("Software update %1").arg(Updates.version)
                color: Theme.text; font.family: Theme.family; font.bold: true
                font.pixelSize: root.restarting ? Theme.fontLarge : Theme.fontNormal
            }
            Text {
                textFormat: Text.PlainText
                width: parent.width; wrapMode: Text.Wrap
                text: Updates.text
                color: root.failed ? Theme.error : Theme.dimText
                font.family: Theme.family; font.pixelSize: Theme.fontSmall
            }
            Rectangle {
                id: track
                visible: !root.failed
                width: parent.width; height: 10; radius: 5
                color: Theme.cell
                Rectangle {
                    id: bar
                    height: parent.height; radius: 5
                    color: Theme.accent
                    width: Updates.progress >= 0 ? parent.width * Updates.progress : parent.width / 4
                    // Size unknown: a block that sweeps, so the screen is plainly alive.
                    SequentialAnimation on x {
                        running: root.visible && Updates.progress < 0
                        loops: Animation.Infinite
                        NumberAnimation { from: 0; to: track.width * 3 / 4; duration: 900 }
                        NumberAnimation { from: track.width * 3 / 4; to: 0; duration: 900 }
                    }
                }
            }
            Row {
                spacing: 18
                visible: !root.failed
                Repeater {
                    model: [UpdateProgress.Downloading, UpdateProgress.Verifying, UpdateProgress.Installing, UpdateProgress.Restarting]
                    Text {
                        textFormat: Text.PlainText
                        required property int modelData
                        required property int index
                        text: [qsTr("Download"), qsTr("Verify"), qsTr("Install"), qsTr("Restart")][index]
                        color: Updates.stage === modelData ? Theme.text : (Updates.stage > modelData ? Theme.accent : Theme.dimText)
                        font.family: Theme.family; font.pixelSize: 16; font.bold: Updates.stage === modelData
                    }
                }
            }
        }
    }
}
