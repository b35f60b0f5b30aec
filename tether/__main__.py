from tether._entry import main

main()
