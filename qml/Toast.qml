import QtQuick

// A short message on top of everything (no channel 123, a stream that does not play, offline).
Rectangle {
    id: toast
    objectName: "toast"
    property alias text: label.text
    property bool isError: false
    function show(message, error) {
        label.text = message
        isError = !!error
        toast.opacity = 1
        hide.restart()
    }
    anchors.horizontalCenter: parent.horizontalCenter
    y: Theme.margin
    width: Math.min(parent.width - 2 * Theme.margin, label.implicitWidth + 48)
    height: label.implicitHeight + 28
    radius: 8
    color: isError ? Theme.error : Theme.panelSolid
    border.color: Theme.text
    border.width: Theme.highContrast ? 2 : 0
    opacity: 0
    visible: opacity > 0
    Behavior on opacity { NumberAnimation { duration: 150 } }
    Text {
        id: label
        textFormat: Text.PlainText
        anchors.centerIn: parent
        width: Math.min(implicitWidth, toast.parent.width - 2 * Theme.margin - 48)
        wrapMode: Text.Wrap
        color: Theme.text
        font.family: Theme.family
        font.pixelSize: Theme.fontNormal
    }
    Timer { id: hide; interval: 4000; onTriggered: toast.opacity = 0 }
}
