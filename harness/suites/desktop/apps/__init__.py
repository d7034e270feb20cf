"""Small Tk apps the desktop suite launches (editor, form); each publishes its widget layout."""
