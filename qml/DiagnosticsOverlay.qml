import QtQuick
import Hubris.Native

// Development builds: frame times, memory, the player and zap times over everything (F10 or the
// menu toggles it). The same frame times go to the control server as telemetry.
Rectangle {
    id: root
    objectName: "diagnosticsOverlay"
    visible: Diagnostics.shown
    x: Theme.margin; y: Theme.margin + 56
    width: lines.implicitWidth + 32; height: lines.implicitHeight + 24
    radius: 6
    color: "#d0000000"
    border.color: Theme.accent; border.width: 1
    Column {
        id: lines
        x: 16; y: 12
        Text { textFormat: Text.PlainText; text: qsTr("Diagnostics"); color: Theme.accent; font.family: "DejaVu Sans Mono"; font.pixelSize: 16; font.bold: true }
        Repeater {
            model: Diagnostics.lines
            Text {
                textFormat: Text.PlainText
                required property string modelData
                text: modelData
                color: "#e0e0e0"; font.family: "DejaVu Sans Mono"; font.pixelSize: 16
            }
        }
    }
}
