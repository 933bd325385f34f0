"""One module per tab of the page; each builds its own Blocks inside the page's Tabs and returns
the pictures it streams (for the sweeper)."""
